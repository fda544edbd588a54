package io.tokenbus.bench;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;

/**
 * One SSE subscriber on a raw TCP socket with a minimal parser: it sends the GET by hand and scans
 * the bytes for the bench tokens ({@code <seq>:<emit nanoTime> }) wherever they are (a merged
 * catch-up delta holds several), so that 10,000 of them cost the client a few µs per message. It
 * records each token's latency and counts tokens lost, repeated and out of order; {@code event:
 * done} ends it.
 */
final class SseSubscriber extends Subscriber {

  /**
   * The terminal events: {@code done} ends the run; {@code error} and {@code cancelled} end it
   * failed.
   */
  private final Needle done = new Needle("event: done");

  private final Needle error = new Needle("event: error");
  private final Needle cancelled = new Needle("event: cancelled");
  private final String path;
  private boolean inHeaders = true;

  SseSubscriber(Latencies latencies, String path) {
    super(latencies);
    this.path = path;
  }

  @Override
  protected String handshake(String host, int port) {
    return "GET "
        + path
        + " HTTP/1.1\r\nHost: "
        + host
        + ":"
        + port
        + "\r\nAccept: text/event-stream\r\n\r\n";
  }

  @Override
  protected void onData(Buffer buffer) {
    long now = System.nanoTime();
    int n = buffer.length();
    int i = 0;
    if (inHeaders) {
      String text = buffer.toString(StandardCharsets.ISO_8859_1);
      int end = text.indexOf("\r\n\r\n");
      if (!text.startsWith("HTTP/1.1 200")) {
        connected.tryFail("the hub answered " + text.lines().findFirst().orElse(""));
        return;
      }
      if (end < 0) {
        return;
      }
      inHeaders = false;
      connected.tryComplete();
      i = end + 4;
    }
    for (; i < n; i++) {
      byte b = buffer.getByte(i);
      if (done.found(b)) {
        end(false);
      }
      if (error.found(b) | cancelled.found(b)) {
        end(true);
      }
      tokens.scan(b, now);
    }
  }

  /** Finds one ASCII string in a byte stream, a byte at a time, across reads. */
  private static final class Needle {
    private final byte[] bytes;
    private int matched;

    Needle(String text) {
      this.bytes = text.getBytes(StandardCharsets.US_ASCII);
    }

    boolean found(byte b) {
      matched = b == bytes[matched] ? matched + 1 : (b == bytes[0] ? 1 : 0);
      if (matched == bytes.length) {
        matched = 0;
        return true;
      }
      return false;
    }
  }
}
