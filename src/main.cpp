#include <cstdio>
int main() { std::puts("wimpack"); }
