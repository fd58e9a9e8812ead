#pragma once
// Every user-facing failure (bad file, bad config, bad flag) is a tinyvit::Error whose message
// names the thing at fault and what to do. The CLI prints it and exits with status 1.
#include <stdexcept>
#include <string>

namespace tinyvit {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tinyvit
