#include "common/thread_name.h"

#include <pthread.h>

namespace halfmq {

void SetCurrentThreadName(const std::string& name) {
  std::string cut = name.substr(0, 15);
  pthread_setname_np(pthread_self(), cut.c_str());  // failure only costs the name
}

std::string CurrentThreadName() {
  char buf[16] = {};
  if (pthread_getname_np(pthread_self(), buf, sizeof buf) != 0) return "";
  return buf;
}

}  // namespace halfmq
