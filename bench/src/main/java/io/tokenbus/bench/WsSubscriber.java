package io.tokenbus.bench;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One WebSocket subscriber on a raw TCP socket with a minimal RFC 6455 client: the upgrade by hand,
 * one masked {@code subscribe} frame, then the server's unmasked frames parsed by length, their
 * text scanned for bench tokens. A frame whose type is done, error or cancelled ends it.
 */
final class WsSubscriber extends Subscriber {

  private final String path;

  /**
   * A text frame to send once upgraded (tokenbus's subscribe), or null (nchan subscribes by URL).
   */
  private final String subscribe;

  private boolean upgraded;
  private Buffer pending = Buffer.buffer();

  WsSubscriber(Latencies latencies, String path, String subscribe) {
    super(latencies);
    this.path = path;
    this.subscribe = subscribe;
  }

  @Override
  protected String handshake(String host, int port) {
    byte[] nonce = new byte[16];
    ThreadLocalRandom.current().nextBytes(nonce);
    return "GET "
        + path
        + " HTTP/1.1\r\nHost: "
        + host
        + ":"
        + port
        + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: "
        + Base64.getEncoder().encodeToString(nonce)
        + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  }

  @Override
  protected void onData(Buffer buffer) {
    long now = System.nanoTime();
    pending = pending.length() == 0 ? buffer : pending.appendBuffer(buffer);
    if (!upgraded) {
      String text = pending.toString(StandardCharsets.ISO_8859_1);
      int end = text.indexOf("\r\n\r\n");
      if (end < 0) {
        return;
      }
      if (!text.startsWith("HTTP/1.1 101")) {
        connected.tryFail("the hub answered " + text.lines().findFirst().orElse(""));
        return;
      }
      upgraded = true;
      pending = pending.getBuffer(end + 4, pending.length());
      if (subscribe != null) {
        send(subscribe);
      }
      connected.tryComplete();
    }
    int at = 0;
    while (pending.length() - at >= 2) {
      int opcode = pending.getByte(at) & 0x0F;
      int length = pending.getByte(at + 1) & 0x7F;
      int header = 2;
      if (length == 126) {
        if (pending.length() - at < 4) {
          break;
        }
        length = pending.getUnsignedShort(at + 2);
        header = 4;
      } else if (length == 127) {
        if (pending.length() - at < 10) {
          break;
        }
        length = (int) pending.getLong(at + 2);
        header = 10;
      }
      if (pending.length() - at < header + length) {
        break;
      }
      int start = at + header;
      if (opcode == 1) {
        onText(start, start + length, now);
      } else if (opcode == 8) {
        end(false);
      }
      at = start + length;
    }
    pending = at == pending.length() ? Buffer.buffer() : pending.getBuffer(at, pending.length());
  }

  private void onText(int from, int to, long now) {
    String type = pending.getString(from, Math.min(to, from + 24), "US-ASCII");
    if (type.startsWith("{\"type\":\"done\"")
        || type.startsWith("event: done")) { // tokenbus's frame, or nchan's last message
      end(false);
    } else if (type.startsWith("{\"type\":\"error\"")
        || type.startsWith("{\"type\":\"cancelled\"")) {
      end(true);
    } else {
      tokens.scan(pending, from, to, now);
    }
  }

  /** A masked text frame, as a client must send. */
  private void send(String text) {
    byte[] payload = text.getBytes(StandardCharsets.UTF_8);
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    Buffer frame = Buffer.buffer().appendByte((byte) 0x81);
    if (payload.length < 126) {
      frame.appendByte((byte) (0x80 | payload.length));
    } else {
      frame.appendByte((byte) (0x80 | 126)).appendUnsignedShort(payload.length);
    }
    frame.appendBytes(mask);
    for (int i = 0; i < payload.length; i++) {
      frame.appendByte((byte) (payload[i] ^ mask[i % 4]));
    }
    socket.write(frame);
  }
}
