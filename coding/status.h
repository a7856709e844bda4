// Errors as values. Operating errors (a malformed message, a failed disk write, a bad scenario file)
// travel as Status / Result<T> between modules; exceptions never cross a module boundary.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace pbfs {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,  // caller passed something impossible
  kMalformed,        // bytes that do not decode: truncated, wrong version, lengths that lie
  kCorrupt,          // checksum or authentication failure
  kNotFound,
  kNoSpace,          // disk full
  kIoError,          // failed disk, crashed node
  kUnavailable,      // not enough fragments, no quorum, timed out
  kConflict,         // a conditional operation lost its race
  kNotLeader,        // a request reached a replica that is not the primary
  kUnsupported,
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "malformed: fragment header truncated at byte 12"
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}                                 // NOLINT
  Result(Status status) : state_(std::move(status)) {}                          // NOLINT
  Result(StatusCode code, std::string message) : state_(Status(code, std::move(message))) {}

  bool is_ok() const { return std::holds_alternative<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  Status status() const { return is_ok() ? Status() : std::get<Status>(state_); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace pbfs
