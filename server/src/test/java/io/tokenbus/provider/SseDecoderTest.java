package io.tokenbus.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("SseDecoder")
class SseDecoderTest {

  private final List<String> data = new ArrayList<>();
  private final List<String> errors = new ArrayList<>();

  private void feedBytewise(String stream, SseDecoder decoder) {
    for (byte b : stream.getBytes(StandardCharsets.UTF_8)) {
      decoder.feed(Buffer.buffer(new byte[] {b}));
    }
  }

  @Test
  @DisplayName("handles LF, CRLF and CR line ends, multi-line data, comments and other fields")
  void lineEnds() {
    SseDecoder decoder = new SseDecoder(1024, 1 << 20, data::add, errors::add);
    decoder.feed(
        Buffer.buffer(
            ": comment\nevent: x\nid: 3\ndata: a\n\ndata: b\r\ndata:c\r\n\r\ndata: d\r\rdata\n\n"));
    assertEquals(List.of("a", "b\nc", "d", ""), data);
    assertEquals(List.of(), errors);
  }

  @Test
  @DisplayName("reports llama.cpp's non-standard error: field")
  void errorField() {
    SseDecoder decoder = new SseDecoder(1024, 1 << 20, data::add, errors::add);
    decoder.feed(
        Buffer.buffer("data: {\"x\":1}\n\nerror: {\"message\":\"boom\"}\n\ndata: [DONE]\n\n"));
    assertEquals(List.of("{\"x\":1}", "[DONE]"), data);
    assertEquals(List.of("{\"message\":\"boom\"}"), errors);
  }

  @Test
  @DisplayName("rebuilds UTF-8 characters split across reads")
  void splitCharacters() {
    SseDecoder decoder = new SseDecoder(1024, 1 << 20, data::add, errors::add);
    feedBytewise("data: {\"content\":\"你好 🚀 ü\"}\n\ndata: [DONE]\n\n", decoder);
    assertEquals(List.of("{\"content\":\"你好 🚀 ü\"}", "[DONE]"), data);
  }

  @Test
  @DisplayName("refuses a line longer than its limit")
  void lineLimit() {
    SseDecoder decoder = new SseDecoder(16, 1 << 20, data::add, errors::add);
    assertThrows(
        IllegalStateException.class,
        () -> decoder.feed(Buffer.buffer("data: " + "x".repeat(20) + "\n\n")));
  }

  @Test
  @DisplayName("an endless line fails at the first byte past max-line-bytes, whatever the reads")
  void endlessLine() {
    SseDecoder decoder = new SseDecoder(1024, 1 << 20, data::add, errors::add);
    decoder.feed(Buffer.buffer("data: "));
    Buffer chunk = Buffer.buffer("x".repeat(100));
    long fed = 6;
    SseDecoder.TooLarge refused = null;
    while (refused == null && fed < 1 << 20) {
      try {
        decoder.feed(chunk);
        fed += chunk.length();
      } catch (SseDecoder.TooLarge e) {
        refused = e;
      }
    }
    assertNotNull(refused, "fed " + fed + " bytes of one line");
    assertEquals(false, refused.event());
    assertEquals(1024, refused.limit());
    assertTrue(fed <= 1024, "refused after " + fed + " bytes");
    assertEquals(List.of(), data);
  }

  @Test
  @DisplayName(
      "an endless event of short data lines fails at the first byte past max-event-bytes, with nothing dispatched")
  void endlessEvent() {
    SseDecoder decoder = new SseDecoder(1024, 4096, data::add, errors::add);
    Buffer line = Buffer.buffer("data: " + "y".repeat(94) + "\n");
    long fed = 0;
    SseDecoder.TooLarge refused = null;
    while (refused == null && fed < 1 << 20) {
      try {
        decoder.feed(line);
        fed += line.length();
      } catch (SseDecoder.TooLarge e) {
        refused = e;
      }
    }
    assertNotNull(refused, "fed " + fed + " bytes of one event");
    assertTrue(refused.event());
    assertEquals(4096, refused.limit());
    assertTrue(fed <= 4096 + 41, "refused after " + fed + " bytes");
    assertEquals(List.of(), data);
  }

  @Test
  @DisplayName(
      "an event's data lines may reach max-event-bytes exactly; the count starts over per event")
  void eventBoundIsPerEvent() {
    // Two lines of 10 bytes ("data: abcd") are one event of 20 bytes.
    SseDecoder decoder = new SseDecoder(1024, 20, data::add, errors::add);
    for (int i = 0; i < 3; i++) {
      decoder.feed(Buffer.buffer("event: e\ndata: abcd\r\ndata: efgh\n: comment\n\n"));
    }
    assertEquals(List.of("abcd\nefgh", "abcd\nefgh", "abcd\nefgh"), data);
    assertThrows(
        SseDecoder.TooLarge.class,
        () -> decoder.feed(Buffer.buffer("data: abcd\ndata: efgh\ndata\n\n")));
  }

  @Test
  @DisplayName("bare data lines count too, so an endless run of them is refused")
  void bareDataLines() {
    SseDecoder decoder = new SseDecoder(1024, 4096, data::add, errors::add);
    assertThrows(
        SseDecoder.TooLarge.class, () -> decoder.feed(Buffer.buffer("data\n".repeat(2000))));
    assertEquals(List.of(), data);
  }
}
