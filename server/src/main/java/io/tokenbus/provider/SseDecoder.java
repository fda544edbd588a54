package io.tokenbus.provider;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Decodes a Server-Sent Events byte stream into the {@code data} of each event, as the SSE spec
 * says: lines end in LF, CRLF or CR; {@code data:} lines join with LF; a blank line ends an event;
 * comments and standard fields are ignored. One non-standard field is reported: {@code error:},
 * which llama.cpp's server sends for a failure before closing with {@code data: [DONE]}. Bytes are
 * decoded as UTF-8 a whole line at a time, so a character split across network reads survives.
 *
 * <p>What an upstream can make it hold is bounded, byte by byte as they arrive: a line longer than
 * {@code maxLineBytes}, or an event whose {@code data} lines together (as received, field names
 * included, line ends not) pass {@code maxEventBytes}, throws {@link TooLarge} at the first byte
 * over, so an endless line or an endless event never buffers more than its bound.
 */
public final class SseDecoder {

  /** A line or an event went past its bound; the stream cannot be read on. */
  public static final class TooLarge extends IllegalStateException {
    private final boolean event;
    private final int limit;

    TooLarge(boolean event, int limit) {
      super(
          (event ? "an SSE event is larger than " : "an SSE line is longer than ")
              + limit
              + " bytes");
      this.event = event;
      this.limit = limit;
    }

    /** True for an event over {@code maxEventBytes}, false for a line over {@code maxLineBytes}. */
    public boolean event() {
      return event;
    }

    public int limit() {
      return limit;
    }
  }

  /** A line buffer grown past this is dropped after its line, so a long line is not kept. */
  private static final int KEPT_LINE_CAPACITY = 8192;

  private static final byte[] DATA_FIELD = "data:".getBytes(StandardCharsets.US_ASCII);

  private final int maxLineBytes;
  private final int maxEventBytes;
  private final Consumer<String> onData;
  private final Consumer<String> onErrorField;
  private byte[] line = new byte[256];
  private int lineLength;

  /** The data lines of the event so far, in bytes as received. */
  private long eventBytes;

  private StringBuilder data;
  private boolean lastWasCr;

  public SseDecoder(
      int maxLineBytes, int maxEventBytes, Consumer<String> onData, Consumer<String> onErrorField) {
    this.maxLineBytes = maxLineBytes;
    this.maxEventBytes = maxEventBytes;
    this.onData = onData;
    this.onErrorField = onErrorField;
  }

  /** Feeds bytes; throws {@link TooLarge} as soon as a line or an event passes its bound. */
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
        append(b);
      }
    }
  }

  private void append(byte b) {
    if (lineLength >= maxLineBytes) {
      throw new TooLarge(false, maxLineBytes);
    }
    if (lineLength >= DATA_FIELD.length
        && eventBytes + lineLength + 1 > maxEventBytes
        && isDataField()) {
      throw new TooLarge(true, maxEventBytes);
    }
    if (lineLength == line.length) {
      byte[] grown = new byte[(int) Math.min((long) maxLineBytes, 2L * line.length)];
      System.arraycopy(line, 0, grown, 0, lineLength);
      line = grown;
    }
    line[lineLength++] = b;
  }

  private boolean isDataField() {
    for (int i = 0; i < DATA_FIELD.length; i++) {
      if (line[i] != DATA_FIELD[i]) {
        return false;
      }
    }
    return true;
  }

  private void endLine() {
    String text = new String(line, 0, lineLength, StandardCharsets.UTF_8);
    int length = lineLength;
    lineLength = 0;
    if (line.length > KEPT_LINE_CAPACITY) {
      line = new byte[256];
    }
    if (text.isEmpty()) {
      eventBytes = 0;
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
      // Every data line counts, a bare "data" too: each adds a line end to the event.
      eventBytes += length;
      if (eventBytes > maxEventBytes) {
        throw new TooLarge(true, maxEventBytes);
      }
      if (data == null) {
        data = new StringBuilder(value);
      } else {
        data.append('\n').append(value);
      }
    }
  }
}
