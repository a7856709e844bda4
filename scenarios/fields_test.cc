// The unit parsers (every accepted form and every kind of garbage) and FieldReader's contract: defaults,
// ranges, unknown and duplicate keys, nested paths and line numbers, and the first error winning.
#include "scenarios/fields.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace pbfs {
namespace {

TEST(ParseDuration, AcceptsEveryUnitAndDecimals) {
  EXPECT_EQ(parse_duration("0"), 0);
  EXPECT_EQ(parse_duration("0.0"), 0);
  EXPECT_EQ(parse_duration("10ns"), 10);
  EXPECT_EQ(parse_duration("50us"), 50 * kMicrosecond);
  EXPECT_EQ(parse_duration("2ms"), 2 * kMillisecond);
  EXPECT_EQ(parse_duration("3s"), 3 * kSecond);
  EXPECT_EQ(parse_duration("3min"), 180 * kSecond);
  EXPECT_EQ(parse_duration("2h"), 7200 * kSecond);
  EXPECT_EQ(parse_duration("1.5s"), 1500 * kMillisecond);
  EXPECT_EQ(parse_duration("0.5us"), 500);
  EXPECT_EQ(parse_duration("1.25ms"), 1250 * kMicrosecond);
  EXPECT_EQ(parse_duration("0.001s"), kMillisecond);
  EXPECT_EQ(parse_duration("50 us"), 50 * kMicrosecond);
  EXPECT_EQ(parse_duration("0s"), 0);
}

TEST(ParseDuration, RejectsNegativesGarbageAndOverflow) {
  for (const char* bad : {"", "5", "1.5", "-5s", "+5s", "-0", "5sec", "5S", "5 s s", "s", ".5s", "5.s", "1e3s",
                          "abc", "5s5", "1.5ns", "0x10s", "5µs"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << "'" << bad << "'";
  }
  // int64 nanoseconds hold about 2562047 hours.
  EXPECT_EQ(parse_duration("2562047h"), int64_t{2562047} * 3600 * kSecond);
  EXPECT_FALSE(parse_duration("2562048h").has_value());
  EXPECT_EQ(parse_duration("9223372036854775807ns"), std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(parse_duration("9223372036854775808ns").has_value());
  EXPECT_FALSE(parse_duration("100000000000000000000000s").has_value());
}

TEST(ParseBytes, DecimalAndBinaryUnitsAndBareIntegers) {
  EXPECT_EQ(parse_bytes("0"), 0u);
  EXPECT_EQ(parse_bytes("1000"), 1000u);
  EXPECT_EQ(parse_bytes("7B"), 7u);
  EXPECT_EQ(parse_bytes("1KB"), 1000u);
  EXPECT_EQ(parse_bytes("1MB"), 1000u * 1000);
  EXPECT_EQ(parse_bytes("1GB"), 1000ull * 1000 * 1000);
  EXPECT_EQ(parse_bytes("2TB"), 2ull * 1000 * 1000 * 1000 * 1000);
  EXPECT_EQ(parse_bytes("4KiB"), 4096u);
  EXPECT_EQ(parse_bytes("64MiB"), 64ull << 20);
  EXPECT_EQ(parse_bytes("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_bytes("1TiB"), 1ull << 40);
  EXPECT_EQ(parse_bytes("1.5KiB"), 1536u);
  EXPECT_EQ(parse_bytes("0.5MB"), 500000u);
  EXPECT_EQ(parse_bytes("18446744073709551615"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(parse_bytes("16777215TiB"), 16777215ull << 40);
}

TEST(ParseBytes, RejectsFractionsOfBytesNegativesGarbageAndOverflow) {
  for (const char* bad : {"", "1.5", "1.5B", "0.3KB5", "-1", "-1KiB", "1kb", "1Kib", "1kib", "KiB", "1PiB",
                          "1 KiB B", "1,000", "18446744073709551616", "16777216TiB", "0.0001KB"}) {
    EXPECT_FALSE(parse_bytes(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(ParseBandwidth, BitsAreStoredAsBytes) {
  EXPECT_DOUBLE_EQ(*parse_bandwidth("8bps"), 1.0);
  EXPECT_DOUBLE_EQ(*parse_bandwidth("1Kbps"), 125.0);
  EXPECT_DOUBLE_EQ(*parse_bandwidth("100Mbps"), 12.5e6);
  EXPECT_DOUBLE_EQ(*parse_bandwidth("10Gbps"), 1.25e9);
  EXPECT_DOUBLE_EQ(*parse_bandwidth("2.5Gbps"), 312.5e6);
  EXPECT_DOUBLE_EQ(*parse_bandwidth("1Bps"), 1.0);
  EXPECT_DOUBLE_EQ(*parse_bandwidth("3KBps"), 3e3);
  EXPECT_DOUBLE_EQ(*parse_bandwidth("200MBps"), 200e6);
  EXPECT_DOUBLE_EQ(*parse_bandwidth("1.5GBps"), 1.5e9);
  EXPECT_DOUBLE_EQ(*parse_bandwidth("0Gbps"), 0.0);  // a valid spelling; FieldReader rejects the value
}

TEST(ParseBandwidth, RejectsMissingOrWrongUnitsNegativesAndOverflow) {
  for (const char* bad : {"", "10", "10Gbs", "10gbps", "10GBPS", "10Gb", "10GB", "-1Gbps", "Gbps", "1e9bps",
                          "10Tbps", "1.Gbps"}) {
    EXPECT_FALSE(parse_bandwidth(bad).has_value()) << "'" << bad << "'";
  }
  EXPECT_FALSE(parse_bandwidth(std::string(400, '9') + "Gbps").has_value());
}

TEST(ParseInteger, DecimalWithOptionalMinus) {
  EXPECT_EQ(parse_integer("0"), 0);
  EXPECT_EQ(parse_integer("-5"), -5);
  EXPECT_EQ(parse_integer("9223372036854775807"), std::numeric_limits<int64_t>::max());
  for (const char* bad : {"", "+1", "1.0", "1e3", " 1", "1 ", "0x10", "9223372036854775808", "one"}) {
    EXPECT_FALSE(parse_integer(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(FormatDuration, LargestExactUnit) {
  EXPECT_EQ(format_duration(0), "0");
  EXPECT_EQ(format_duration(2 * kSecond), "2s");
  EXPECT_EQ(format_duration(1500 * kMillisecond), "1500ms");
  EXPECT_EQ(format_duration(90 * kSecond), "90s");
  EXPECT_EQ(format_duration(120 * kSecond), "2min");
  EXPECT_EQ(format_duration(7200 * kSecond), "2h");
  EXPECT_EQ(format_duration(-20 * kMicrosecond), "-20us");
  EXPECT_EQ(format_duration(7), "7ns");
}

FieldReader reader_for(const std::string& yaml, const std::string& path = "") {
  return FieldReader(YAML::Load(yaml), "f.yaml", path);
}

TEST(FieldReader, ReadsValuesAndDefaults) {
  FieldReader r = reader_for(
      "t: 1.5s\nb: 64MiB\nw: 10Gbps\nx: 0.25\nn: -3\nf: true\ns: hello\nc: real\nl: [1, 2, 3]\n"
      "names: [a, b]\nempty:\nsigned: -20ms\n");
  EXPECT_EQ(r.duration("t", 7), 1500 * kMillisecond);
  EXPECT_EQ(r.bytes("b", 7), 64ull << 20);
  EXPECT_DOUBLE_EQ(r.bandwidth("w", 7), 1.25e9);
  EXPECT_DOUBLE_EQ(r.number("x", 7, 0, 1), 0.25);
  EXPECT_EQ(r.integer("n", 7, -10, 10), -3);
  EXPECT_TRUE(r.boolean("f", false));
  EXPECT_EQ(r.string("s", "x"), "hello");
  EXPECT_EQ(r.choice("c", "synthetic", {"real", "synthetic"}), "real");
  EXPECT_EQ(r.integer_list("l", 0, 5), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(r.string_list("names"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.duration("empty", 9 * kSecond), 9 * kSecond);  // no value: the default
  EXPECT_EQ(r.signed_duration("signed", 0), -20 * kMillisecond);
  // Absent keys take their defaults.
  EXPECT_EQ(r.duration("absent_t", 11), 11);
  EXPECT_EQ(r.bytes("absent_b", 12), 12u);
  EXPECT_EQ(r.string("absent_s", "dflt"), "dflt");
  EXPECT_TRUE(r.integer_list("absent_l", 0, 5).empty());
  EXPECT_FALSE(r.has("absent_t"));
  EXPECT_TRUE(r.has("t"));
  EXPECT_TRUE(r.finish().is_ok());
}

TEST(FieldReader, NullOrUndefinedMapGivesDefaults) {
  FieldReader undefined(YAML::Node(YAML::NodeType::Undefined), "f.yaml", "section");
  EXPECT_EQ(undefined.integer("k", 5, 0, 10), 5);
  EXPECT_TRUE(undefined.finish().is_ok());
  FieldReader null_map(YAML::Load("~"), "f.yaml", "section");
  EXPECT_EQ(null_map.duration("k", 3), 3);
  EXPECT_TRUE(null_map.finish().is_ok());
}

TEST(FieldReader, UnknownFieldListsKnownOnesInReadOrder) {
  FieldReader r = reader_for("name: a\nracks: 2\nrakcs: 3\n", "topology.sites.0");
  r.string("name", "");
  r.integer("racks", 1, 1, 100);
  r.integer("nodes_per_rack", 1, 1, 100);
  r.string("node_profile", "default");
  const Status status = r.finish();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "f.yaml:3: topology.sites.0.rakcs: unknown field (known: name, racks, nodes_per_rack, node_profile)");
}

TEST(FieldReader, RangeAndFormatErrorsNameLineAndPath) {
  struct Case {
    const char* yaml;
    void (*read)(FieldReader&);
    const char* message;
  };
  const Case cases[] = {
      {"a: 1\nk: 0\n", [](FieldReader& r) { r.integer("k", 1, 1, std::numeric_limits<int64_t>::max()); },
       "f.yaml:2: s.k: must be at least 1, got 0"},
      {"k: 101\n", [](FieldReader& r) { r.integer("k", 1, 1, 100); },
       "f.yaml:1: s.k: must be between 1 and 100, got 101"},
      {"k: 7\n", [](FieldReader& r) { r.integer("k", 1, std::numeric_limits<int64_t>::min(), 5); },
       "f.yaml:1: s.k: must be at most 5, got 7"},
      {"k: 2.5\n", [](FieldReader& r) { r.integer("k", 1, 0, 9); },
       "f.yaml:1: s.k: bad integer '2.5' (expected a whole number)"},
      {"k: 1.5\n", [](FieldReader& r) { r.number("k", 0, 0, 1); },
       "f.yaml:1: s.k: must be between 0 and 1, got 1.5"},
      {"k: nan\n", [](FieldReader& r) { r.number("k", 0, 0, 1); },
       "f.yaml:1: s.k: bad number 'nan'"},
      {"k: maybe\n", [](FieldReader& r) { r.boolean("k", false); },
       "f.yaml:1: s.k: bad boolean 'maybe' (expected true or false)"},
      {"k: fake\n", [](FieldReader& r) { r.choice("k", "real", {"real", "synthetic"}); },
       "f.yaml:1: s.k: bad value 'fake' (expected one of: real, synthetic)"},
      {"k: 5 sec\n", [](FieldReader& r) { r.duration("k", 0); },
       "f.yaml:1: s.k: bad duration '5 sec' (expected a number with ns, us, ms, s, min or h, e.g. 50us or 1.5s)"},
      {"k: -1s\n", [](FieldReader& r) { r.duration("k", 0); },
       "f.yaml:1: s.k: bad duration '-1s' (expected a number with ns, us, ms, s, min or h, e.g. 50us or 1.5s)"},
      {"k: 1.5\n", [](FieldReader& r) { r.bytes("k", 0); },
       "f.yaml:1: s.k: bad size '1.5' (expected a whole number of bytes, or a number with B, KB, MB, GB, TB, "
       "KiB, MiB, GiB or TiB)"},
      {"k: 10Gbs\n", [](FieldReader& r) { r.bandwidth("k", 1); },
       "f.yaml:1: s.k: bad bandwidth '10Gbs' (expected a number with bps, Kbps, Mbps, Gbps, or "
       "Bps/KBps/MBps/GBps)"},
      {"k: 0Mbps\n", [](FieldReader& r) { r.bandwidth("k", 1); },
       "f.yaml:1: s.k: bandwidth must be greater than 0, got '0Mbps'"},
      {"k: {a: 1}\n", [](FieldReader& r) { r.duration("k", 0); },
       "f.yaml:1: s.k: expected a duration, got a map"},
      {"k: [1, x]\n", [](FieldReader& r) { r.integer_list("k", 0, 9); },
       "f.yaml:1: s.k.1: expected an integer, got 'x'"},
      {"k:\n  - 1\n  - 12\n", [](FieldReader& r) { r.integer_list("k", 0, 9); },
       "f.yaml:3: s.k.1: must be between 0 and 9, got 12"},
      {"k: 3\n", [](FieldReader& r) { r.integer_list("k", 0, 9); },
       "f.yaml:1: s.k: expected a list, got '3'"},
      {"k: [a, [b]]\n", [](FieldReader& r) { r.string_list("k"); },
       "f.yaml:1: s.k.1: expected a string, got a list"},
      {"k: 1\n", [](FieldReader& r) { r.child("k"); },
       "f.yaml:1: s.k: expected a map of fields, got '1'"},
  };
  for (const Case& c : cases) {
    FieldReader r = reader_for(c.yaml, "s");
    c.read(r);
    EXPECT_FALSE(r.ok()) << c.yaml;
    const Status status = r.finish();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), c.message) << c.yaml;
  }
}

TEST(FieldReader, RequiredFieldsPointAtLikelyMisspellings) {
  FieldReader r = reader_for("name: x\ndurtion: 10s\n");
  EXPECT_FALSE(r.duration_required("duration").has_value());
  EXPECT_EQ(r.finish().message(),
            "f.yaml:1: duration: required field is missing (is 'durtion' on line 2 a misspelling?)");
  FieldReader far = reader_for("name: x\n");
  EXPECT_FALSE(far.integer_required("count", 0, 9).has_value());
  EXPECT_EQ(far.finish().message(), "f.yaml:1: count: required field is missing");
  FieldReader empty = reader_for("name: x\ncount:\n");
  EXPECT_FALSE(empty.require("count"));
  EXPECT_EQ(empty.finish().message(), "f.yaml:2: count: required field has no value");
  FieldReader present = reader_for("count: 4\n");
  EXPECT_EQ(present.integer_required("count", 0, 9), 4);
  EXPECT_TRUE(present.finish().is_ok());
}

TEST(FieldReader, ChildrenAndElementsShareTheFirstError) {
  const char* yaml =
      "outer:\n"
      "  inner:\n"
      "    size: 12XB\n"
      "  items:\n"
      "    - {k: 1}\n"
      "    - {k: 2, bogus: 3}\n";
  FieldReader r = reader_for(yaml);
  FieldReader outer = r.child("outer");
  FieldReader inner = outer.child("inner");
  EXPECT_EQ(inner.bytes("size", 5), 5u);
  ASSERT_EQ(outer.list_size("items"), 2u);
  for (size_t i = 0; i < 2; ++i) {
    FieldReader item = outer.element("items", i);
    EXPECT_EQ(item.integer("k", 0, 0, 9), static_cast<int64_t>(i + 1));
    static_cast<void>(item.finish());  // the unknown `bogus` is recorded, but the first error stays
  }
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.finish().message(),
            "f.yaml:3: outer.inner.size: bad size '12XB' (expected a whole number of bytes, or a number with B, "
            "KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
}

TEST(FieldReader, ElementPathsAndLines) {
  FieldReader r = reader_for("items:\n  - {k: 1}\n  - k: 2\n    bogus: 3\n");
  ASSERT_EQ(r.list_size("items"), 2u);
  FieldReader first = r.element("items", 0);
  first.integer("k", 0, 0, 9);
  EXPECT_EQ(first.line_of(""), 2);
  EXPECT_TRUE(first.finish().is_ok());
  FieldReader second = r.element("items", 1);
  EXPECT_EQ(second.field_path("k"), "items.1.k");
  second.integer("k", 0, 0, 9);
  EXPECT_EQ(second.line_of("bogus"), 4);
  EXPECT_EQ(second.finish().message(), "f.yaml:4: items.1.bogus: unknown field (known: k)");
}

TEST(FieldReader, DuplicateKeysAndNonMapsAreErrors) {
  FieldReader dup = reader_for("a: 1\nb: 2\na: 3\n", "s");
  EXPECT_EQ(dup.finish().message(), "f.yaml:3: s.a: duplicate field (first on line 1)");
  FieldReader list = reader_for("- 1\n- 2\n", "s");
  EXPECT_EQ(list.finish().message(), "f.yaml:1: s: expected a map of fields, got a list");
  FieldReader nothing_expected = reader_for("x: 1\n", "s");
  EXPECT_EQ(nothing_expected.finish().message(), "f.yaml:1: s.x: unknown field (no fields are expected here)");
}

TEST(FieldReader, FieldsWrittenByOverridesNameTheArgument) {
  const OverrideOrigins origins{{"s.k", "s.k=abc"}, {"s.sub", "s.sub.x=1"}};
  FieldReader r(YAML::Load("k: abc\nm: 1\n"), "f.yaml", "s", origins);
  r.integer("k", 0, 0, 9);
  EXPECT_EQ(r.finish().message(), "--set s.k=abc: s.k: bad integer 'abc' (expected a whole number)");
  // Below an overridden path too; a field that only shares a prefix of the name is not covered.
  FieldReader below(YAML::Load("sub: {x: 1}\nsubway: 3s\n"), "f.yaml", "s", origins);
  below.duration("subway", 0);
  FieldReader sub = below.child("sub");
  sub.duration("x", 0);
  EXPECT_EQ(below.finish().message(),
            "--set s.sub.x=1: s.sub.x: bad duration '1' (expected a number with ns, us, ms, s, min or h, e.g. "
            "50us or 1.5s)");
  FieldReader other(YAML::Load("subway: 3\n"), "f.yaml", "s", origins);
  other.duration("subway", 0);
  EXPECT_EQ(other.finish().message().substr(0, 22), "f.yaml:1: s.subway: ba");
}

TEST(FieldReader, FirstErrorWins) {
  FieldReader r = reader_for("a: x\nb: y\n");
  r.integer("a", 0, 0, 9);
  r.integer("b", 0, 0, 9);
  r.fail("c", "later");
  EXPECT_EQ(r.finish().message(), "f.yaml:1: a: bad integer 'x' (expected a whole number)");
}

TEST(FieldReader, KeysMarksEverythingKnown) {
  FieldReader r = reader_for("ssd: {}\nnvme: {}\n");
  EXPECT_EQ(r.keys(), (std::vector<std::string>{"ssd", "nvme"}));
  EXPECT_TRUE(r.finish().is_ok());
}

}  // namespace
}  // namespace pbfs
