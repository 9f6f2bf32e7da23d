#!/usr/bin/env python3
"""Corpus helpers for scripts/bench (deterministic, no randomness).

  corpus.py subset SRC DST BUDGET_MB   copy an evenly spread sample of SRC's files
                                       (every k-th file in sorted order) until BUDGET_MB
  corpus.py mutate DIR PERMILLE TAG    change PERMILLE/1000 of the regular files in DIR
                                       (content and mtime), print how many
  corpus.py concat SRC DST SIZE_MB     concatenate ELF/binary files from SRC into one DST file
  corpus.py bytes DIR                  total size of regular files under DIR
  corpus.py count DIR                  number of regular files under DIR
"""
import os
import shutil
import stat
import sys
import time


def walk_files(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            out.append(os.path.join(d, f))
    return out


def regular_files(root):
    res = []
    for p in walk_files(root):
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            res.append((p, st.st_size))
    return res


def subset(src, dst, budget_mb):
    budget = int(budget_mb) << 20
    files = []
    for p in walk_files(src):
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            files.append((p, st))
    total = sum(st.st_size for _, st in files if stat.S_ISREG(st.st_mode))
    stride = max(1, total // budget) if budget else 1
    tmp = dst + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    got = 0
    # every stride-th file, then the next offset, ... until the budget is reached
    for phase in range(stride):
        for i in range(phase, len(files), stride):
            p, st = files[i]
            if stat.S_ISREG(st.st_mode) and st.st_size > budget // 4:
                continue  # keep one huge file from dominating the sample
            rel = os.path.relpath(p, src)
            q = os.path.join(tmp, rel)
            try:
                os.makedirs(os.path.dirname(q), exist_ok=True)
                if stat.S_ISLNK(st.st_mode):
                    os.symlink(os.readlink(p), q)
                else:
                    shutil.copy2(p, q)
                    got += st.st_size
            except OSError:
                continue
            if got >= budget:
                break
        if got >= budget:
            break
    os.rename(tmp, dst)
    print(got)


def mutate(root, permille, tag):
    permille = int(permille)
    files = regular_files(root)
    step = max(1, 1000 // permille)
    n = 0
    now = time.time()
    for i, (p, _) in enumerate(files):
        if i % step != step // 2:
            continue
        with open(p, "ab") as f:
            f.write(("\n/* wimpack bench change %s %d */\n" % (tag, i)).encode())
        os.utime(p, (now, now))
        n += 1
    print(n)


def concat(src, dst, size_mb):
    want = int(size_mb) << 20
    tmp = dst + ".tmp"
    got = 0
    with open(tmp, "wb") as out:
        while got < want:
            before = got
            for p, sz in regular_files(src):
                if sz < 4096:
                    continue
                try:
                    with open(p, "rb") as f:
                        data = f.read(want - got)
                except OSError:
                    continue
                out.write(data)
                got += len(data)
                if got >= want:
                    break
            if got == before:
                break
    os.rename(tmp, dst)
    print(got)


def main():
    cmd = sys.argv[1]
    if cmd == "subset":
        subset(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "mutate":
        mutate(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "concat":
        concat(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "bytes":
        print(sum(s for _, s in regular_files(sys.argv[2])))
    elif cmd == "count":
        print(len(regular_files(sys.argv[2])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
