package io.tokenbus.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Stops reading a connection while it cannot be written to, and reads again once it drains. What a
 * client sends can make the server answer (a WebSocket ping is answered with a pong, by Vert.x),
 * and a client that sends without reading would otherwise pile those answers up in memory without a
 * bound. With the gate, they stop at the connection's write bound ({@code
 * viewer.write-queue-bytes}), plus one read's worth; the client's own sends then wait in TCP.
 */
final class ReadGate extends ChannelInboundHandlerAdapter {

  /** The name it has in a pipeline. */
  static final String NAME = "tokenbus-read-gate";

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object message) {
    ctx.fireChannelRead(message);
    if (!ctx.channel().isWritable()) {
      ctx.channel().config().setAutoRead(false);
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable() && !ctx.channel().config().isAutoRead()) {
      ctx.channel().config().setAutoRead(true);
    }
    ctx.fireChannelWritabilityChanged();
  }
}
