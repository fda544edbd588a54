package io.tokenbus.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;

/**
 * Drops the empty fragments a fragmented message starts with, and makes its first fragment that is
 * not empty (or its last) the one that starts it, so Vert.x sees the same message without them.
 * Vert.x 5.0.7's message aggregation ({@code WebSocketImplBase.FrameAggregator}) keeps an empty
 * first fragment as a buffer that cannot grow: it drops the continuations that follow (it takes an
 * empty buffer for no message at all), and every later text or binary frame fails on appending to
 * it, with an {@code IndexOutOfBoundsException} that reaches no handler. The socket would read on
 * and answer nothing, never closed. RFC 6455 allows empty fragments anywhere; only the first is a
 * problem, so only it is handled, here, before Vert.x reads the frames.
 *
 * <p>It sits after Netty's frame decoder and UTF-8 validator, which see the frames as sent and
 * refuse a sequence that is not allowed (a continuation with nothing to continue, a new message
 * inside one), so every sequence that reaches it is valid.
 */
final class EmptyFragments extends ChannelInboundHandlerAdapter {

  /** The name it has in a pipeline. */
  static final String NAME = "tokenbus-empty-fragments";

  /**
   * Whether the message whose empty first fragments were dropped is text; null when none were. Only
   * the connection's event loop reads frames, so it needs no lock.
   */
  private Boolean startedText;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object message) {
    if (message instanceof WebSocketFrame frame && !frame.isFinalFragment() && isEmpty(frame)) {
      if (frame instanceof TextWebSocketFrame || frame instanceof BinaryWebSocketFrame) {
        startedText = frame instanceof TextWebSocketFrame;
        frame.release();
        return;
      }
      if (frame instanceof ContinuationWebSocketFrame && startedText != null) {
        frame.release();
        return;
      }
    }
    if (message instanceof ContinuationWebSocketFrame continuation && startedText != null) {
      message = start(continuation, startedText);
      startedText = null;
    }
    ctx.fireChannelRead(message);
  }

  private static boolean isEmpty(WebSocketFrame frame) {
    return !frame.content().isReadable();
  }

  /** The same fragment as the first of its message: its content is handed over, not copied. */
  private static WebSocketFrame start(ContinuationWebSocketFrame continuation, boolean text) {
    boolean fin = continuation.isFinalFragment();
    int rsv = continuation.rsv();
    return text
        ? new TextWebSocketFrame(fin, rsv, continuation.content())
        : new BinaryWebSocketFrame(fin, rsv, continuation.content());
  }
}
