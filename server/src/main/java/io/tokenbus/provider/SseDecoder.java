package io.tokenbus.provider;

import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Decodes a Server-Sent Events byte stream into the {@code data} of each event, as the SSE spec
 * says: lines end in LF, CRLF or CR; {@code data:} lines join with LF; a blank line ends an event;
 * comments and standard fields are ignored. One non-standard field is reported: {@code error:},
 * which llama.cpp's server sends for a failure before closing with {@code data: [DONE]}. Bytes are
 * decoded as UTF-8 a whole line at a time, so a character split across network reads survives. A
 * line longer than the limit is an error.
 */
public final class SseDecoder {

  private final int maxLineBytes;
  private final Consumer<String> onData;
  private final Consumer<String> onErrorField;
  private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
  private StringBuilder data;
  private boolean lastWasCr;

  public SseDecoder(int maxLineBytes, Consumer<String> onData, Consumer<String> onErrorField) {
    this.maxLineBytes = maxLineBytes;
    this.onData = onData;
    this.onErrorField = onErrorField;
  }

  /** Feeds bytes; throws {@link IllegalStateException} if a line exceeds the limit. */
  public void feed(Buffer buffer) {
    for (int i = 0, n = buffer.length(); i < n; i++) {
      byte b = buffer.getByte(i);
      if (b == '\n' && lastWasCr) {
        lastWasCr = false;
        continue;
      }
      lastWasCr = b == '\r';
      if (b == '\n' || b == '\r') {
        endLine();
      } else {
        if (line.size() >= maxLineBytes) {
          throw new IllegalStateException("an SSE line is longer than " + maxLineBytes + " bytes");
        }
        line.write(b);
      }
    }
  }

  private void endLine() {
    String text = line.toString(StandardCharsets.UTF_8);
    line.reset();
    if (text.isEmpty()) {
      if (data != null) {
        String event = data.toString();
        data = null;
        onData.accept(event);
      }
      return;
    }
    if (text.startsWith("error:")) {
      onErrorField.accept(text.substring(text.length() > 6 && text.charAt(6) == ' ' ? 7 : 6));
      return;
    }
    if (text.startsWith("data")) {
      String value;
      if (text.length() == 4) {
        value = "";
      } else if (text.charAt(4) == ':') {
        value = text.length() > 5 && text.charAt(5) == ' ' ? text.substring(6) : text.substring(5);
      } else {
        return;
      }
      if (data == null) {
        data = new StringBuilder(value);
      } else {
        data.append('\n').append(value);
      }
    }
  }
}
