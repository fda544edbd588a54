package io.tokenbus.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationSource;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Event encoding and merging")
class EncodingTest {

  private static final GenerationInfo INFO =
      new GenerationInfo(
          "chatcmpl-chunk",
          "mock",
          1,
          new GenerationRequest("mock", new JsonObject(), null, null, Creator.ANONYMOUS),
          "node",
          1);
  private static final GenerationSource SOURCE = new GenerationSource(INFO, null);

  @Test
  @DisplayName("merging folds each run of deltas into one delta with the run's last seq")
  void merge() {
    List<GenerationEvent> merged =
        Viewer.merge(
            List.of(
                GenerationEvent.delta(4, "a"),
                GenerationEvent.delta(5, "b"),
                GenerationEvent.delta(6, "c"),
                GenerationEvent.done(7, "stop", null)),
            SOURCE);
    assertEquals(
        List.of(GenerationEvent.delta(6, "abc"), GenerationEvent.done(7, "stop", null)), merged);
  }

  @Test
  @DisplayName(
      "a merged delta stops short of the size limit, and one delta already past it is kept whole")
  void mergeIsBounded() {
    String half = "a".repeat(Viewer.MERGED_DELTA_MAX_CHARS / 2);
    String big = "b".repeat(Viewer.MERGED_DELTA_MAX_CHARS + 1);
    List<GenerationEvent> merged =
        Viewer.merge(
            List.of(
                GenerationEvent.delta(1, half),
                GenerationEvent.delta(2, half),
                GenerationEvent.delta(3, "c"),
                GenerationEvent.delta(4, big),
                GenerationEvent.delta(5, "d")),
            SOURCE);
    assertEquals(
        List.of(
            GenerationEvent.delta(2, half + half),
            GenerationEvent.delta(3, "c"),
            GenerationEvent.delta(4, big),
            GenerationEvent.delta(5, "d")),
        merged);
  }

  @Test
  @DisplayName(
      "a WebSocket frame encoded once per node is byte for byte what Netty's encoder sends, at every length form")
  void webSocketFramesMatchNetty() {
    for (int length : new int[] {0, 1, 125, 126, 65535, 65536, 70000}) {
      String text =
          "é".repeat(length / 2)
              + "x".repeat(length % 2); // two-byte characters: lengths count bytes
      EmbeddedChannel netty = new EmbeddedChannel(new WebSocket13FrameEncoder(false));
      netty.writeOutbound(new TextWebSocketFrame(text));
      ByteBuf expected = Unpooled.buffer();
      for (Object part; (part = netty.readOutbound()) != null; ) {
        expected.writeBytes((ByteBuf) part);
        ((ByteBuf) part).release();
      }
      Buffer frame = WebSocketFrames.text(text);
      assertEquals(Buffer.buffer(ByteBufUtil.getBytes(expected)), frame, "length " + length);
      assertEquals(text, WebSocketFrames.textOf(frame));
    }
  }

  @Test
  @DisplayName(
      "an SSE batch framed once as an HTTP/1.1 chunk is byte for byte the chunk Netty's HTTP encoder writes for it")
  void httpChunksMatchNetty() {
    for (int tokens : new int[] {1, 2, 40, 3000}) {
      List<GenerationEvent> events = new ArrayList<>();
      for (int seq = 1; seq <= tokens; seq++) {
        events.add(GenerationEvent.delta(seq, "tok" + seq + "é"));
      }
      Encoded<GenerationEvent> encoded = Encoded.encode(SOURCE, WireFormat.SSE, events);
      EmbeddedChannel netty = new EmbeddedChannel(new HttpResponseEncoder());
      HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      HttpUtil.setTransferEncodingChunked(head, true);
      netty.writeOutbound(head);
      drain(netty);
      netty.writeOutbound(
          new DefaultHttpContent(Unpooled.wrappedBuffer(encoded.joined().getBytes())));
      assertEquals(
          Buffer.buffer(ByteBufUtil.getBytes(drain(netty))),
          encoded.httpChunk(),
          tokens + " tokens");
      assertEquals(
          encoded.joined().length(),
          Integer.parseInt(encoded.httpChunk().toString().split("\r\n", 2)[0], 16));
    }
  }

  private static ByteBuf drain(EmbeddedChannel channel) {
    ByteBuf out = Unpooled.buffer();
    for (Object part; (part = channel.readOutbound()) != null; ) {
      out.writeBytes((ByteBuf) part);
      ((ByteBuf) part).release();
    }
    return out;
  }
}
