package io.tokenbus.fanout;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;

/**
 * Whole WebSocket frames as a server sends them, so a stream's frames are encoded once per node.
 */
public final class WebSocketFrames {

  private WebSocketFrames() {}

  /**
   * A whole text frame (RFC 6455 section 5.2: FIN, opcode 1, no mask): the same bytes suit every
   * connection.
   */
  public static Buffer text(String text) {
    byte[] payload = text.getBytes(StandardCharsets.UTF_8);
    int length = payload.length;
    Buffer frame = Buffer.buffer(length + 10).appendByte((byte) 0x81);
    if (length < 126) {
      frame.appendByte((byte) length);
    } else if (length < 65536) {
      frame.appendByte((byte) 126).appendShort((short) length);
    } else {
      frame.appendByte((byte) 127).appendLong(length);
    }
    return frame.appendBytes(payload);
  }

  /** The text a frame made by {@link #text} carries. */
  public static String textOf(Buffer frame) {
    int marker = frame.getByte(1) & 0x7f;
    int header = marker < 126 ? 2 : marker == 126 ? 4 : 10;
    return frame.getString(header, frame.length(), "UTF-8");
  }
}
