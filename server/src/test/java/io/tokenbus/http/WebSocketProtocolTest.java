package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.RawWebSocket;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Frames RFC 6455 does not allow end the socket with the code the RFC gives each, sent by a raw
 * client that writes frames byte for byte (a WebSocket library would refuse to send them).
 */
@ExtendWith(VertxExtension.class)
@DisplayName("WebSocket protocol errors")
class WebSocketProtocolTest {

  private static final int TEXT = 1;
  private static final int CONTINUATION = 0;
  private static final int BINARY = 2;
  private static final int PING = 9;

  @Test
  @DisplayName(
      "a frame or a fragmented message over websocket.max-frame-bytes closes with 1009, reserved"
          + " bits with 1002, a text frame that is not UTF-8 with 1007")
  void closeCodes(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_WEBSOCKET_MAX_FRAME_BYTES", "4096")));
    assertEquals(1009, closeCode(vertx, hub, frame(TEXT, 0, true, filled(5000))));
    assertEquals(
        1009,
        closeCode(
            vertx,
            hub,
            frame(TEXT, 0, false, filled(3000)),
            frame(CONTINUATION, 0, true, filled(3000))));
    assertEquals(
        1002,
        closeCode(
            vertx,
            hub,
            frame(TEXT, 0x40, true, "{\"type\":\"x\"}".getBytes(StandardCharsets.UTF_8))));
    assertEquals(
        1007, closeCode(vertx, hub, frame(TEXT, 0, true, new byte[] {'{', (byte) 0xff, '}'})));
    // A valid frame is still answered (an error frame for an unknown type), the socket open.
    assertEquals(-1, closeCode(vertx, hub, frame(TEXT, 0, true, "{}".getBytes())));
  }

  @Test
  @DisplayName(
      "a protocol error right behind a frame the hub answered still gets its close frame (1002,"
          + " 1007, 1009) before the connection closes, whether it came in the same read or later")
  void closeFrameAfterAnAnswer(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_WEBSOCKET_MAX_FRAME_BYTES", "4096")));
    NetClient client = vertx.createNetClient();
    List<Refused> refused =
        List.of(
            new Refused("reserved bits", frame(TEXT, 0x40, true, "{}".getBytes()), 1002),
            new Refused("a reserved opcode", frame(3, 0, true, "{}".getBytes()), 1002),
            new Refused(
                "text that is not UTF-8", frame(TEXT, 0, true, new byte[] {(byte) 0xff}), 1007),
            new Refused("a frame over the limit", frame(TEXT, 0, true, filled(5000)), 1009));
    List<String> wrong = new ArrayList<>();
    for (int i = 0; i < 48; i++) {
      Refused bad = refused.get(i % refused.size());
      boolean sameRead = i / refused.size() % 2 == 0;
      int code = closeCodeAfterAnAnswer(client, hub, bad.frame(), sameRead);
      if (code != bad.code()) {
        wrong.add(
            bad.what()
                + (sameRead ? " in the same read as the malformed frame" : " after its answer")
                + ": "
                + (code == 0 ? "no close frame" : "closed with " + code));
      }
    }
    assertEquals(List.of(), wrong);
  }

  /** A frame RFC 6455 does not allow, and the close code it gets. */
  private record Refused(String what, Buffer frame, int code) {}

  /**
   * Sends a frame that is not JSON (answered with an {@code error} frame, the socket open), then
   * {@code bad}: in the same TCP write, so the hub reads both at once, or once the answer came.
   * Returns the code of the hub's close frame once the connection closed, 0 if it had none.
   */
  private static int closeCodeAfterAnAnswer(
      NetClient client, TestHub hub, Buffer bad, boolean sameRead) {
    RawWebSocket ws = await(RawWebSocket.open(client, hub.port(), null));
    Buffer malformed = frame(TEXT, 0, true, "{not json".getBytes(StandardCharsets.UTF_8));
    if (sameRead) {
      ws.write(malformed.copy().appendBuffer(bad));
    } else {
      ws.write(malformed);
      await(ws.texts().whenCount(1), 10, "the error frame");
      ws.write(bad);
    }
    await(ws.closed(), 10, "the TCP close");
    assertTrue(
        ws.texts().items().get(0).contains("\"invalid_frame\""), ws.texts().items().toString());
    return ws.closeCode().isComplete() ? ws.closeCode().result() : 0;
  }

  @Test
  @DisplayName(
      "a fragmented message that starts with empty fragments is answered like any other, and the"
          + " socket goes on answering")
  void emptyFirstFragment(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    RawWebSocket ws = await(RawWebSocket.open(vertx.createNetClient(), hub.port(), null));
    byte[] none = new byte[0];
    ws.write(frame(TEXT, 0, false, none));
    ws.write(frame(CONTINUATION, 0, false, none));
    ws.write(frame(PING, 0, true, new byte[] {1}));
    ws.write(frame(CONTINUATION, 0, false, "{\"type\":".getBytes(StandardCharsets.UTF_8)));
    ws.write(frame(CONTINUATION, 0, true, "\"dance\"}".getBytes(StandardCharsets.UTF_8)));
    // Empty fragments only: the empty message.
    ws.write(frame(TEXT, 0, false, none));
    ws.write(frame(CONTINUATION, 0, true, none));
    ws.write(frame(BINARY, 0, false, none));
    ws.write(frame(CONTINUATION, 0, true, new byte[] {1, 2}));
    ws.write(frame(TEXT, 0, true, "{\"type\":\"sentinel\"}".getBytes(StandardCharsets.UTF_8)));

    List<String> answers = await(ws.texts().whenCount(4), 10, "four answers");
    assertTrue(answers.get(0).contains("Unknown frame type 'dance'"), answers.toString());
    assertTrue(answers.get(1).contains("Frames must be JSON objects"), answers.toString());
    assertTrue(answers.get(2).contains("Binary frames are not supported"), answers.toString());
    assertTrue(answers.get(3).contains("Unknown frame type 'sentinel'"), answers.toString());
    assertFalse(ws.closeCode().isComplete(), "closed with " + ws.closeCode().result());
    ws.close();
  }

  private static byte[] filled(int size) {
    byte[] bytes = new byte[size];
    Arrays.fill(bytes, (byte) 'a');
    return bytes;
  }

  /** A masked client frame: FIN, the reserved bits {@code rsv}, the opcode, the payload. */
  private static Buffer frame(int opcode, int rsv, boolean fin, byte[] payload) {
    Buffer frame = Buffer.buffer().appendByte((byte) ((fin ? 0x80 : 0) | rsv | opcode));
    if (payload.length < 126) {
      frame.appendByte((byte) (0x80 | payload.length));
    } else {
      frame.appendByte((byte) (0x80 | 126)).appendUnsignedShort(payload.length);
    }
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    frame.appendBytes(mask);
    byte[] masked = new byte[payload.length];
    for (int i = 0; i < payload.length; i++) {
      masked[i] = (byte) (payload[i] ^ mask[i % 4]);
    }
    return frame.appendBytes(masked);
  }

  /**
   * Opens a socket, sends {@code frames}, and returns the code of the close frame the hub sends, or
   * -1 when it answers with a text frame instead (the socket stays open).
   */
  private static int closeCode(Vertx vertx, TestHub hub, Buffer... frames) {
    NetSocket socket = await(vertx.createNetClient().connect(hub.port(), "127.0.0.1"));
    Promise<Integer> code = Promise.promise();
    Buffer handshake = Buffer.buffer();
    Buffer received = Buffer.buffer();
    boolean[] upgraded = {false};
    socket.handler(
        chunk -> {
          if (upgraded[0]) {
            received.appendBuffer(chunk);
            readFrames(received, code);
            return;
          }
          handshake.appendBuffer(chunk);
          int end = handshake.toString(StandardCharsets.ISO_8859_1).indexOf("\r\n\r\n");
          if (end < 0) {
            return;
          }
          upgraded[0] = true;
          received.appendBuffer(handshake.getBuffer(end + 4, handshake.length()));
          for (Buffer frame : frames) {
            socket.write(frame);
          }
          readFrames(received, code);
        });
    socket.closeHandler(v -> code.tryFail("closed without a close frame"));
    socket.write(
        "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:"
            + hub.port()
            + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    try {
      return await(code.future());
    } finally {
      socket.close();
    }
  }

  /** Finds the first close or text frame among the server's (unmasked) frames. */
  private static void readFrames(Buffer received, Promise<Integer> code) {
    int offset = 0;
    while (offset + 2 <= received.length()) {
      int opcode = received.getByte(offset) & 0x0f;
      int length = received.getByte(offset + 1) & 0x7f;
      int header = 2;
      if (length == 126) {
        if (offset + 4 > received.length()) {
          return;
        }
        length = received.getUnsignedShort(offset + 2);
        header = 4;
      }
      if (offset + header + length > received.length()) {
        return;
      }
      if (opcode == 8) {
        code.tryComplete(length >= 2 ? received.getUnsignedShort(offset + header) : 1005);
        return;
      }
      if (opcode == TEXT) {
        code.tryComplete(-1);
        return;
      }
      offset += header + length;
    }
  }

  @Test
  @DisplayName(
      "a ping flood from a client that reads nothing stops being read once the pongs fill the"
          + " write bound, and every pong arrives once the client reads")
  void pingFlood(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    long frames = 500_000; // 500,000 pings of 125 bytes: 65 MB sent, 63 MB of pongs owed
    byte[] payload = filled(125);
    NetSocket socket = await(vertx.createNetClient().connect(hub.port(), "127.0.0.1"));
    Promise<Void> upgraded = Promise.promise();
    long[] pongBytes = {0};
    Promise<Void> allPongs = Promise.promise();
    Buffer handshake = Buffer.buffer();
    socket.handler(
        chunk -> {
          if (!upgraded.future().isComplete()) {
            handshake.appendBuffer(chunk);
            int end = handshake.toString(StandardCharsets.ISO_8859_1).indexOf("\r\n\r\n");
            if (end >= 0) {
              pongBytes[0] += handshake.length() - end - 4;
              upgraded.complete();
            }
            return;
          }
          pongBytes[0] += chunk.length();
          if (pongBytes[0] >= frames * (2 + payload.length)) {
            allPongs.tryComplete();
          }
        });
    socket.write(
        "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:"
            + hub.port()
            + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    await(upgraded.future());
    socket.pause(); // the client reads nothing from here on

    Promise<Long> stuck = Promise.promise();
    Promise<Void> sentAll = Promise.promise();
    long[] sent = {0};
    Runnable[] pump = new Runnable[1];
    long[] stallTimer = {-1};
    pump[0] =
        () -> {
          while (sent[0] < frames && !socket.writeQueueFull()) {
            socket.write(frame(PING, 0, true, payload));
            sent[0]++;
          }
          if (sent[0] == frames) {
            sentAll.tryComplete();
            return;
          }
          // The kernel's buffers are full: if the hub reads nothing more for 2 s, it has stopped.
          long before = sent[0];
          stallTimer[0] =
              vertx.setTimer(
                  2000,
                  t -> {
                    if (sent[0] == before) {
                      stuck.tryComplete(before);
                    }
                  });
          socket.drainHandler(
              v -> {
                vertx.cancelTimer(stallTimer[0]);
                pump[0].run();
              });
        };
    vertx.runOnContext(v -> pump[0].run());
    long sentWhenStuck =
        await(
            Future.any(stuck.future(), sentAll.future())
                .map(v -> stuck.future().isComplete() ? stuck.future().result() : frames),
            60);
    assertTrue(
        sentWhenStuck < frames,
        "the hub read all " + frames + " pings while their pongs went unread");

    socket.resume();
    await(sentAll.future(), 60);
    await(allPongs.future(), 60);
    assertEquals(frames * (2 + payload.length), pongBytes[0]);
    socket.close();
  }
}
