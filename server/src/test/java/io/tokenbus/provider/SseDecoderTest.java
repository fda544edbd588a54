package io.tokenbus.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
    SseDecoder decoder = new SseDecoder(1024, data::add, errors::add);
    decoder.feed(
        Buffer.buffer(
            ": comment\nevent: x\nid: 3\ndata: a\n\ndata: b\r\ndata:c\r\n\r\ndata: d\r\rdata\n\n"));
    assertEquals(List.of("a", "b\nc", "d", ""), data);
    assertEquals(List.of(), errors);
  }

  @Test
  @DisplayName("reports llama.cpp's non-standard error: field")
  void errorField() {
    SseDecoder decoder = new SseDecoder(1024, data::add, errors::add);
    decoder.feed(
        Buffer.buffer("data: {\"x\":1}\n\nerror: {\"message\":\"boom\"}\n\ndata: [DONE]\n\n"));
    assertEquals(List.of("{\"x\":1}", "[DONE]"), data);
    assertEquals(List.of("{\"message\":\"boom\"}"), errors);
  }

  @Test
  @DisplayName("rebuilds UTF-8 characters split across reads")
  void splitCharacters() {
    SseDecoder decoder = new SseDecoder(1024, data::add, errors::add);
    feedBytewise("data: {\"content\":\"你好 🚀 ü\"}\n\ndata: [DONE]\n\n", decoder);
    assertEquals(List.of("{\"content\":\"你好 🚀 ü\"}", "[DONE]"), data);
  }

  @Test
  @DisplayName("refuses a line longer than its limit")
  void lineLimit() {
    SseDecoder decoder = new SseDecoder(16, data::add, errors::add);
    assertThrows(
        IllegalStateException.class,
        () -> decoder.feed(Buffer.buffer("data: " + "x".repeat(20) + "\n\n")));
  }
}
