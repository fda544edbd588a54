package io.tokenbus.http;

import io.tokenbus.auth.Authenticator;
import io.tokenbus.auth.Principal;
import io.tokenbus.auth.Scope;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.generation.GenerationEncoder;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code POST /v1/chat/completions}, OpenAI-compatible. The generation runs on a worker like any
 * other; the requester is just its first viewer. Streaming answers hold their headers until the
 * first event, so a generation that fails before its first token answers with the right HTTP status
 * (as OpenAI does) instead of a 200 stream holding an error.
 */
final class ChatCompletionsHandler {

  private final GenerationClient generations;
  private final GenerationStore store;
  private final Streams streams;
  private final Authenticator authenticator;

  ChatCompletionsHandler(
      GenerationClient generations,
      GenerationStore store,
      Streams streams,
      Authenticator authenticator) {
    this.generations = generations;
    this.store = store;
    this.streams = streams;
    this.authenticator = authenticator;
  }

  void handle(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    Access.mayStart(caller, Scope.GENERATE, "start generations");
    JsonObject body = ChatRequests.json(ctx.body().buffer());
    GenerationRequest request = ChatRequests.parse(body, caller.creator());
    boolean stream = ChatRequests.stream(body);
    WireFormat format =
        ChatRequests.includeUsage(body)
            ? WireFormat.CHAT_CHUNKS_WITH_USAGE
            : WireFormat.CHAT_CHUNKS;
    generations
        .start(request, AccessLog.receivedAt(ctx))
        .onSuccess(
            info -> {
              HttpServerResponse response =
                  ctx.response()
                      .putHeader("X-Generation-Id", info.id())
                      .putHeader(
                          "X-Watch-Token",
                          authenticator.watchToken(info.request().creator().tenant(), info.id()));
              if (stream) {
                ChatStreamOutput output = new ChatStreamOutput(streams, ctx, format, info);
                output.watch(streams.generation(info, 0, false, output));
              } else if (!response.closed()) {
                Viewer<GenerationEvent> viewer =
                    streams.generation(info, 0, false, new CompletionOutput(response, store, info));
                response.closeHandler(v -> viewer.close());
                viewer.start();
              }
            })
        .onFailure(ctx::fail);
  }

  /**
   * A streamed chat completion: role chunk, content chunks, finish chunk, optional usage, [DONE]; a
   * reset ends it with the error chunk its encoding holds.
   */
  private static final class ChatStreamOutput extends AnswerStreamOutput {
    private final GenerationEncoder encoder;

    ChatStreamOutput(Streams streams, RoutingContext ctx, WireFormat format, GenerationInfo info) {
      super(streams, ctx, format, info);
      this.encoder = new GenerationEncoder(info);
    }

    @Override
    void opened() {
      JsonObject role = new JsonObject().put("role", "assistant").put("content", "");
      response.write(Buffer.buffer("data: " + encoder.chunk(role, null).encode() + "\n\n"));
    }
  }

  /**
   * A non-streaming completion: one {@code chat.completion}, its tool-call deltas assembled into
   * the message's {@code tool_calls}; an error or a cancel answered with its status.
   */
  private static final class CompletionOutput extends WholeAnswerOutput {

    CompletionOutput(HttpServerResponse response, GenerationStore store, GenerationInfo info) {
      super(response, store, info);
    }

    @Override
    void answer(GenerationSnapshot finished) {
      GenerationEvent terminal = finished.terminal();
      switch (terminal.type()) {
        case DONE ->
            response
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end(GenerationJson.chatCompletion(finished, toolCalls.result()).encode());
        case ERROR -> ErrorHandler.render(response, terminal.failure(), null);
        default ->
            ErrorHandler.render(
                response,
                new Failure(
                    409,
                    "invalid_request_error",
                    "generation_cancelled",
                    "Generation " + info.id() + " was cancelled"),
                null);
      }
    }
  }
}
