#include "client/cli/rfc3339.h"

#include <string>

namespace halfmq::cli {
namespace {

// Days from 1970-01-01 to the given proleptic Gregorian date (Howard
// Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int DaysInMonth(int64_t year, int64_t month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// Reads exactly `digits` decimal digits at text[*pos].
bool ReadDigits(std::string_view text, size_t* pos, int digits, int64_t* value) {
  if (text.size() - *pos < static_cast<size_t>(digits)) return false;
  int64_t v = 0;
  for (int i = 0; i < digits; ++i) {
    char c = text[*pos + static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += static_cast<size_t>(digits);
  *value = v;
  return true;
}

bool ReadChar(std::string_view text, size_t* pos, char lower, char upper = 0) {
  if (*pos >= text.size()) return false;
  char c = text[*pos];
  if (c != lower && (upper == 0 || c != upper)) return false;
  ++*pos;
  return true;
}

}  // namespace

Result<int64_t> ParseRfc3339Ms(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not an RFC 3339 time (" +
                                   std::string(why) +
                                   "); e.g. 2026-11-27T10:00:00Z or 2026-11-27T11:00:00+01:00");
  };
  size_t pos = 0;
  int64_t year, month, day, hour, minute, second;
  if (!ReadDigits(text, &pos, 4, &year) || !ReadChar(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &month) || !ReadChar(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &day)) {
    return bad("the date must be YYYY-MM-DD");
  }
  if (!ReadChar(text, &pos, 't', 'T')) return bad("the date and time are joined by 'T'");
  if (!ReadDigits(text, &pos, 2, &hour) || !ReadChar(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &minute) || !ReadChar(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &second)) {
    return bad("the time must be HH:MM:SS");
  }
  int64_t millis = 0;
  if (ReadChar(text, &pos, '.')) {
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad("no digits after '.'");
    for (int i = digits; i < 3; ++i) millis *= 10;
  }
  int64_t offset_minutes = 0;
  if (ReadChar(text, &pos, 'z', 'Z')) {
    // UTC
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int64_t sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int64_t offset_hour, offset_minute;
    if (!ReadDigits(text, &pos, 2, &offset_hour) || !ReadChar(text, &pos, ':') ||
        !ReadDigits(text, &pos, 2, &offset_minute)) {
      return bad("the offset must be +HH:MM or -HH:MM");
    }
    if (offset_hour > 23 || offset_minute > 59) return bad("offset out of range");
    offset_minutes = sign * (offset_hour * 60 + offset_minute);
  } else {
    return bad("it needs a zone: 'Z' or an offset such as +01:00");
  }
  if (pos != text.size()) return bad("unexpected text after the zone");
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return bad("day out of range");
  if (hour > 23 || minute > 59 || second > 59) return bad("time out of range");
  int64_t seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                    offset_minutes * 60;
  return seconds * 1000 + millis;
}

}  // namespace halfmq::cli
