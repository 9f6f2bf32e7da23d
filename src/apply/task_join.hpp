// Streaming blobs while small ones are written on worker tasks: the stream's
// error wins, but the tasks are always waited for, so none outlives what it
// refers to (the tree writer, buffers on the caller's stack).
#pragma once

#include <tbb/task_group.h>

#include <exception>
#include <utility>

namespace wp::apply {

template <class Stream>
void stream_then_wait(tbb::task_group& tasks, Stream&& stream) {
  std::exception_ptr err;
  try {
    std::forward<Stream>(stream)();
  } catch (...) {
    err = std::current_exception();
  }
  try {
    tasks.wait();
  } catch (...) {
    if (!err) err = std::current_exception();
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace wp::apply
