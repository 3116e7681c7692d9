// Names the calling thread (as `top -H`, `perf` and `/proc/<pid>/task/*/comm`
// show it). Linux keeps 15 bytes; longer names are cut.
#ifndef HALFMQ_COMMON_THREAD_NAME_H_
#define HALFMQ_COMMON_THREAD_NAME_H_

#include <string>

namespace halfmq {

void SetCurrentThreadName(const std::string& name);
// The calling thread's name ("" if it cannot be read).
std::string CurrentThreadName();

}  // namespace halfmq

#endif  // HALFMQ_COMMON_THREAD_NAME_H_
