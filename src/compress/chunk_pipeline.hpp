// The chunk pipeline (architecture.md "How data flows"): the one ordered
// parallel pipeline of the program. A serial producer fills chunks in order,
// a parallel transform compresses or decompresses each with a per-thread
// codec context, and a serial consumer receives them in the producer's
// order. Memory is bounded by the tokens in flight, never by the input.
//
// It knows chunks and codecs, nothing of files or WIM structures: the
// writer (src/wim/archive_writer.cpp) and the resource reader
// (src/wim/resource_reader.cpp) give it their own token types.
#pragma once

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_pipeline.h>

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "compress/codec.hpp"

namespace wp {

// How many chunks of at most `max_chunk` bytes may be in flight: four per
// thread, but no more than ~256 MiB of buffers (an input and an output per
// token), and never fewer than 2.
size_t chunk_tokens(uint64_t max_chunk);

// Owns every token it hands out, so tokens still in flight when the
// pipeline is cancelled by an exception are freed with the pool. Idle tokens
// keep their buffers for the next chunk.
template <class Token>
class TokenPool {
public:
  Token* get() {
    std::lock_guard lk(m_);
    if (free_.empty()) {
      owned_.push_back(std::make_unique<Token>());
      return owned_.back().get();
    }
    Token* t = free_.back();
    free_.pop_back();
    return t;
  }
  void put(Token* t) {
    std::lock_guard lk(m_);
    free_.push_back(t);
  }
  // Tokens ever created: at most the pipeline's token limit.
  size_t created() const {
    std::lock_guard lk(m_);
    return owned_.size();
  }

private:
  mutable std::mutex m_;
  std::vector<std::unique_ptr<Token>> owned_;
  std::vector<Token*> free_;
};

// An ordered parallel pipeline over tokens of type `Token`, with one
// `Context` per thread (default-constructed on first use, kept across runs:
// codec contexts are made once per thread, not per chunk). `run` may be
// called several times (e.g. once per solid resource); tokens and contexts
// are reused.
//
//   produce(Token&) -> bool    serial, in order: fill the token; false = no more input
//   transform(Token&, Context&) parallel: compress / decompress
//   consume(Token&)             serial, in the producer's order
//
// An exception from any stage cancels the pipeline and propagates out of
// run(); every token stays owned by the pool, so nothing leaks. An
// exception from `transform` is held with its token and rethrown when the
// consumer reaches that token, so the error reported is always the first
// failing chunk in order (a later chunk may fail first in time), the same
// error an inline, single-threaded read gives.
template <class Token, class Context>
class ChunkPipeline {
public:
  explicit ChunkPipeline(size_t max_tokens) : max_tokens_(max_tokens < 1 ? 1 : max_tokens) {}

  template <class Produce, class Transform, class Consume>
  void run(Produce&& produce, Transform&& transform, Consume&& consume) {
    tbb::parallel_pipeline(
        max_tokens_,
        tbb::make_filter<void, Slot*>(tbb::filter_mode::serial_in_order,
                                      [&](tbb::flow_control& fc) -> Slot* {
                                        Slot* s = pool_.get();
                                        s->error = nullptr;
                                        if (!produce(s->token)) {
                                          pool_.put(s);
                                          fc.stop();
                                          return nullptr;
                                        }
                                        return s;
                                      }) &
            tbb::make_filter<Slot*, Slot*>(tbb::filter_mode::parallel,
                                           [&](Slot* s) -> Slot* {
                                             try {
                                               transform(s->token, contexts_.local());
                                             } catch (...) {
                                               s->error = std::current_exception();
                                             }
                                             return s;
                                           }) &
            tbb::make_filter<Slot*, void>(tbb::filter_mode::serial_in_order, [&](Slot* s) {
              if (s->error) {
                std::exception_ptr e = std::move(s->error);
                pool_.put(s);
                std::rethrow_exception(e);
              }
              consume(s->token);
              pool_.put(s);
            }));
  }

  size_t max_tokens() const { return max_tokens_; }
  size_t tokens_created() const { return pool_.created(); }

private:
  struct Slot {
    Token token;
    std::exception_ptr error;
  };
  size_t max_tokens_;
  TokenPool<Slot> pool_;
  tbb::enumerable_thread_specific<Context> contexts_;
};

// A per-thread compression context for the pipeline's transform: the
// compressor is made on first use with the given parameters.
struct CompressContext {
  std::unique_ptr<Compressor> compressor;
  Compressor& get(Codec c, int level, uint32_t max_chunk_size) {
    if (!compressor) compressor = make_compressor(c, level, max_chunk_size);
    return *compressor;
  }
};

// A per-thread decompression context: one decompressor per (codec, chunk
// size) met, made on first use (a reader may stream resources of several
// codecs, e.g. --ref archives or solid resources with their own chunk size).
struct DecompressContext {
  std::map<std::pair<Codec, uint32_t>, std::unique_ptr<Decompressor>> decompressors;
  Decompressor& get(Codec c, uint32_t max_chunk_size) {
    auto& d = decompressors[{c, max_chunk_size}];
    if (!d) d = make_decompressor(c, max_chunk_size);
    return *d;
  }
};

// Compresses one chunk into `out` (resized to at least in.size()). Returns
// the compressed size, or 0 when the chunk is to be stored raw: compression
// did not make it strictly smaller, or it is too small to try (0 or 1 byte).
// The raw decision is the container's (wim-format.md §4.2), made here once.
size_t compress_chunk(Compressor& c, std::span<const uint8_t> in, std::vector<uint8_t>& out);

}  // namespace wp
