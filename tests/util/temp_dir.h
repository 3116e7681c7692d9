// A temporary directory removed (recursively) when the object dies.
#ifndef HALFMQ_TESTS_UTIL_TEMP_DIR_H_
#define HALFMQ_TESTS_UTIL_TEMP_DIR_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace halfmq::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/halfmq-test-XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace halfmq::testing

#endif  // HALFMQ_TESTS_UTIL_TEMP_DIR_H_
