// Clang thread-safety annotations (no-ops elsewhere). The asan preset builds
// with clang and -Wthread-safety, so GUARDED_BY fields are checked there.
#ifndef HALFMQ_COMMON_THREAD_ANNOTATIONS_H_
#define HALFMQ_COMMON_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define HALFMQ_TSA(x) __attribute__((x))
#else
#define HALFMQ_TSA(x)
#endif

#define CAPABILITY(x) HALFMQ_TSA(capability(x))
#define SCOPED_CAPABILITY HALFMQ_TSA(scoped_lockable)
#define GUARDED_BY(x) HALFMQ_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) HALFMQ_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) HALFMQ_TSA(acquired_before(__VA_ARGS__))
#define REQUIRES(...) HALFMQ_TSA(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) HALFMQ_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) HALFMQ_TSA(release_capability(__VA_ARGS__))
#define EXCLUDES(...) HALFMQ_TSA(locks_excluded(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS HALFMQ_TSA(no_thread_safety_analysis)
#define RETURN_CAPABILITY(x) HALFMQ_TSA(lock_returned(x))

#endif  // HALFMQ_COMMON_THREAD_ANNOTATIONS_H_
