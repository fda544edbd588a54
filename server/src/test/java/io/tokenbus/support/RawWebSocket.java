package io.tokenbus.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * A WebSocket client that writes frames byte for byte, so it can send what RFC 6455 forbids
 * (reserved bits, unknown opcodes, unmasked or oversized frames, fragments out of order, text that
 * is not UTF-8) and see exactly what the hub sends back: its text frames, and the code of its close
 * frame.
 */
public final class RawWebSocket {

  public static final int CONTINUATION = 0;
  public static final int TEXT = 1;
  public static final int BINARY = 2;
  public static final int CLOSE = 8;
  public static final int PING = 9;
  public static final int PONG = 10;

  private final NetSocket socket;
  private final Buffer in = Buffer.buffer();
  private final Promise<Void> upgraded = Promise.promise();
  private final Promise<Integer> closeCode = Promise.promise();
  private final Promise<Void> closed = Promise.promise();
  private final Recorder<String> texts = new Recorder<>();
  private int offset;

  private RawWebSocket(NetSocket socket) {
    this.socket = socket;
    socket.handler(this::received);
    socket.closeHandler(
        v -> {
          upgraded.tryFail("closed before the upgrade: " + in.toString(StandardCharsets.UTF_8));
          closed.tryComplete();
        });
  }

  /**
   * Opens {@code /v1/ws} with {@code key} as its bearer credential (none when null); completes once
   * the hub has answered 101.
   */
  public static Future<RawWebSocket> open(NetClient client, int port, String key) {
    return client
        .connect(port, "127.0.0.1")
        .compose(
            socket -> {
              RawWebSocket ws = new RawWebSocket(socket);
              socket.write(
                  "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:"
                      + port
                      + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      + (key == null ? "" : "Authorization: Bearer " + key + "\r\n")
                      + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      + "Sec-WebSocket-Version: 13\r\n\r\n");
              return ws.upgraded.future().map(ws);
            });
  }

  /** A client frame: FIN, the reserved bits {@code rsv} (0x70 at most), the opcode, masked. */
  public static Buffer frame(int opcode, int rsv, boolean fin, byte[] payload, Random random) {
    return frame(opcode, rsv, fin, true, payload, random);
  }

  /** The same, with or without the mask every client frame must have. */
  public static Buffer frame(
      int opcode, int rsv, boolean fin, boolean masked, byte[] payload, Random random) {
    Buffer frame = Buffer.buffer().appendByte((byte) ((fin ? 0x80 : 0) | rsv | opcode));
    int maskBit = masked ? 0x80 : 0;
    if (payload.length < 126) {
      frame.appendByte((byte) (maskBit | payload.length));
    } else if (payload.length < 65536) {
      frame.appendByte((byte) (maskBit | 126)).appendUnsignedShort(payload.length);
    } else {
      frame.appendByte((byte) (maskBit | 127)).appendLong(payload.length);
    }
    if (!masked) {
      return frame.appendBytes(payload);
    }
    byte[] mask = new byte[4];
    random.nextBytes(mask);
    frame.appendBytes(mask);
    byte[] out = new byte[payload.length];
    for (int i = 0; i < payload.length; i++) {
      out[i] = (byte) (payload[i] ^ mask[i % 4]);
    }
    return frame.appendBytes(out);
  }

  public static Buffer text(String text, Random random) {
    return frame(TEXT, 0, true, text.getBytes(StandardCharsets.UTF_8), random);
  }

  public Future<Void> write(Buffer bytes) {
    return socket.write(bytes);
  }

  /** Every text frame the hub sent, in order. */
  public Recorder<String> texts() {
    return texts;
  }

  /** The code of the hub's close frame (1005 for one without a code). */
  public Future<Integer> closeCode() {
    return closeCode.future();
  }

  /** Completes when the TCP connection closes. */
  public Future<Void> closed() {
    return closed.future();
  }

  public void close() {
    socket.close();
  }

  private void received(Buffer chunk) {
    in.appendBuffer(chunk);
    if (!upgraded.future().isComplete()) {
      String head = in.toString(StandardCharsets.ISO_8859_1);
      int end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        return;
      }
      if (!head.startsWith("HTTP/1.1 101")) {
        upgraded.tryFail("not upgraded: " + head.substring(0, end));
        socket.close();
        return;
      }
      offset = end + 4;
      upgraded.tryComplete();
    }
    readFrames();
  }

  /** The hub's frames are unmasked; this reads every complete one. */
  private void readFrames() {
    while (offset + 2 <= in.length()) {
      int opcode = in.getByte(offset) & 0x0f;
      long length = in.getByte(offset + 1) & 0x7f;
      int header = 2;
      if (length == 126) {
        if (offset + 4 > in.length()) {
          return;
        }
        length = in.getUnsignedShort(offset + 2);
        header = 4;
      } else if (length == 127) {
        if (offset + 10 > in.length()) {
          return;
        }
        length = in.getLong(offset + 2);
        header = 10;
      }
      if (offset + header + length > in.length()) {
        return;
      }
      int start = offset + header;
      int end = (int) (start + length);
      if (opcode == CLOSE) {
        closeCode.tryComplete(length >= 2 ? in.getUnsignedShort(start) : 1005);
      } else if (opcode == TEXT) {
        texts.add(in.getString(start, end, "UTF-8"));
      }
      offset = end;
    }
  }
}
