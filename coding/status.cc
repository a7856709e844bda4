// Names and formatting for Status values.
#include "coding/status.h"

namespace pbfs {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kMalformed: return "malformed";
    case StatusCode::kCorrupt: return "corrupt";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kNoSpace: return "no space";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kConflict: return "conflict";
    case StatusCode::kNotLeader: return "not leader";
    case StatusCode::kUnsupported: return "unsupported";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(status_code_name(code_)) + ": " + message_;
}

}  // namespace pbfs
