package io.tokenbus.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import org.HdrHistogram.Recorder;

/**
 * One SSE subscriber on a raw TCP socket with a minimal parser: it sends the GET by hand and scans
 * the bytes for the bench tokens ({@code <seq>:<emit nanoTime> }) wherever they are (a merged
 * catch-up delta holds several), so that 10,000 of them cost the client a few µs per message. It
 * records each token's latency and counts tokens lost, repeated and out of order; {@code event:
 * done} ends it.
 */
final class SseSubscriber implements Subscriber {

  /** Every terminal event starts with this ({@code done}, and the failures {@code error} and {@code cancelled} fail the run). */
  private static final byte[] DONE = "event: done".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] FAILED = "event: error".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] CANCELLED = "event: cancelled".getBytes(StandardCharsets.US_ASCII);
  private boolean failed;
  private int failedMatch;
  private int cancelledMatch;

  final TokenScanner tokens;
  private final Promise<Void> connected = Promise.promise();
  private final Promise<Void> ended = Promise.promise();
  private boolean inHeaders = true;
  private int doneMatch;

  SseSubscriber(Recorder latencies) {
    this.tokens = new TokenScanner(latencies);
  }

  @Override
  public Future<Void> connect(io.vertx.core.Vertx vertx, NetClient client, String host, int port, String path, String subscribe) {
    // A hub out of file descriptors completes the TCP handshake (the kernel does) but never answers.
    long timer = vertx.setTimer(30_000, t -> connected.tryFail("no HTTP answer within 30 s (is the hub's open-file limit, "
        + "ulimit -n, high enough?)"));
    connected.future().onComplete(ar -> vertx.cancelTimer(timer));
    client.connect(port, host).onSuccess(socket -> {
      socket.handler(this::onData);
      socket.closeHandler(v -> {
        connected.tryFail("closed before the stream started");
        ended.tryComplete();
      });
      socket.write("GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\nAccept: text/event-stream\r\n\r\n");
    }).onFailure(connected::tryFail);
    return connected.future();
  }

  @Override
  public Future<Void> ended() {
    return ended.future();
  }

  @Override
  public TokenScanner tokens() {
    return tokens;
  }

  @Override
  public boolean failed() {
    return failed;
  }

  private void onData(Buffer buffer) {
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
      doneMatch = b == DONE[doneMatch] ? doneMatch + 1 : (b == DONE[0] ? 1 : 0);
      if (doneMatch == DONE.length) {
        ended.tryComplete();
        doneMatch = 0;
      }
      failedMatch = b == FAILED[failedMatch] ? failedMatch + 1 : (b == FAILED[0] ? 1 : 0);
      cancelledMatch = b == CANCELLED[cancelledMatch] ? cancelledMatch + 1 : (b == CANCELLED[0] ? 1 : 0);
      if (failedMatch == FAILED.length || cancelledMatch == CANCELLED.length) {
        failed = true;
        ended.tryComplete();
        failedMatch = 0;
        cancelledMatch = 0;
      }
      tokens.scan(b, now);
    }
  }


}
