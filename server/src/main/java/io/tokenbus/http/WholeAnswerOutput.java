package io.tokenbus.http;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.fanout.Encoded;
import io.tokenbus.fanout.ViewerOutput;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.generation.LogFold;
import io.tokenbus.generation.ToolCallAssembler;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;

/**
 * A viewer that writes nothing until the end, then answers once (a non-streaming chat completion, a
 * whole Responses API response): the answer is folded as its events arrive, tool-call deltas
 * assembled on the way, so that the end needs no read of the store (a finished generation may be
 * evicted at once, another tenant's huge ones past {@code generation.max-retained-bytes}, before a
 * read would find it); only when an event was missing is the store's snapshot read instead.
 */
abstract class WholeAnswerOutput implements ViewerOutput<GenerationEvent> {

  protected final HttpServerResponse response;
  protected final GenerationInfo info;
  protected final ToolCallAssembler toolCalls = new ToolCallAssembler();
  private final GenerationStore store;
  private final LogFold fold = new LogFold();
  private boolean gap;

  WholeAnswerOutput(HttpServerResponse response, GenerationStore store, GenerationInfo info) {
    this.response = response;
    this.store = store;
    this.info = info;
  }

  /** Answers from the finished generation; the response is still open. */
  abstract void answer(GenerationSnapshot finished);

  @Override
  public WireFormat format() {
    return WireFormat.NONE;
  }

  @Override
  public boolean writeQueueFull() {
    return false;
  }

  @Override
  public void write(Encoded<GenerationEvent> events) {
    for (GenerationEvent event : events.events()) {
      toolCalls.add(event);
      if (event.seq() == fold.lastSeq() + 1) {
        fold.add(event);
      } else if (event.seq() > fold.lastSeq()) {
        gap = true;
      }
    }
  }

  @Override
  public void write(Buffer head) {}

  @Override
  public void onDrain(Runnable action) {}

  @Override
  public void end() {
    GenerationSnapshot folded = fold.snapshot(info);
    (!gap && folded.terminal() != null ? Future.succeededFuture(folded) : store.snapshot(info.id()))
        .onComplete(
            ar -> {
              if (response.closed()) {
                return;
              }
              if (ar.failed() || ar.result() == null) {
                ErrorHandler.render(
                    response,
                    Failure.internal("The generation's result is no longer available"),
                    null);
                return;
              }
              answer(ar.result());
            });
  }

  @Override
  public void stalled() {
    lost("stalled"); // it never is: nothing is written before the end
  }

  @Override
  public void lost(String reason) {
    if (!response.closed()) {
      ErrorHandler.render(
          response, Failure.internal("The generation could not be followed: " + reason), null);
    }
  }
}
