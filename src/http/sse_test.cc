#include <gtest/gtest.h>

#include "polycloud/http/client.h"
#include "polycloud/http/message.h"

namespace polycloud::http {
namespace {

std::vector<SseEvent> ParseAll(std::string_view text, size_t chunk = 1 << 20) {
  SseParser parser;
  std::vector<SseEvent> out;
  for (size_t i = 0; i < text.size(); i += chunk) parser.Feed(text.substr(i, chunk), &out);
  return out;
}

TEST(FormatSseEventTest, WritesFieldsAndSplitsDataLines) {
  EXPECT_EQ(FormatSseEvent({"7", "job", "{\"id\":\"j1\"}", std::nullopt}),
            "id: 7\nevent: job\ndata: {\"id\":\"j1\"}\n\n");
  EXPECT_EQ(FormatSseEvent({"", "", "a\nb\r\nc\rd", 3000}),
            "retry: 3000\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(FormatSseEvent({"", "", "", std::nullopt}), "data: \n\n");
}

TEST(FormatSseEventTest, AnIdCannotForgeAnotherField) {
  EXPECT_EQ(FormatSseEvent({"1\ndata: evil", "x\r\nid: 9", "ok", std::nullopt}),
            "id: 1\nevent: x\ndata: ok\n\n");
}

TEST(SseParserTest, ReadsWhatFormatWrites) {
  const SseEvent events[] = {{"1", "job", "line one\nline two", std::nullopt},
                             {"2", "", "", std::nullopt},
                             {"3", "decision", "{\"x\":1}", 500}};
  std::string text = ": hello\n\n";
  for (const SseEvent& e : events) text += FormatSseEvent(e);
  for (size_t chunk : {1, 2, 7, 1000}) {
    std::vector<SseEvent> got = ParseAll(text, chunk);
    ASSERT_EQ(got.size(), 3u) << chunk;
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(got[i].id, events[i].id);
      EXPECT_EQ(got[i].event, events[i].event);
      EXPECT_EQ(got[i].data, events[i].data);
      EXPECT_EQ(got[i].retry_ms, events[i].retry_ms);
    }
  }
}

TEST(SseParserTest, FollowsTheHtmlStandardsRules) {
  // CRLF and CR end lines; "data" without a colon is an empty data line; an
  // event with no data is not dispatched; the id persists.
  std::vector<SseEvent> got = ParseAll("id: 5\r\ndata\r\rid: 6\nevent: x\n\ndata:no space\n\n");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "5");
  EXPECT_EQ(got[0].data, "");
  EXPECT_EQ(got[1].id, "6");
  EXPECT_EQ(got[1].event, "");
  EXPECT_EQ(got[1].data, "no space");
  SseParser counting;
  std::vector<SseEvent> none;
  counting.Feed(": ping\n\n: ping\n\n", &none);
  EXPECT_EQ(counting.comments_seen(), 2);
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace polycloud::http
