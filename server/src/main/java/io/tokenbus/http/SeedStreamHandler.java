package io.tokenbus.http;

import io.tokenbus.auth.Principal;
import io.tokenbus.auth.Scope;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.fanout.WireFormat;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code POST /stream}: the endpoint of the classic FastAPI tutorial, so its fetch-reader client
 * works unchanged: the prompt in {@code ?prompt=} or {@code {"prompt": "..."}}, the answer as
 * {@code data: <token>} events (or, with {@code ?format=json}, {@code data: {"token": "..."}}),
 * then {@code data: [DONE]}.
 */
final class SeedStreamHandler {

  private final GenerationClient generations;
  private final Streams streams;

  /** The model that answers {@code /stream} ({@code generation.stream-model}). */
  private final String model;

  SeedStreamHandler(GenerationClient generations, Streams streams, String model) {
    this.generations = generations;
    this.streams = streams;
    this.model = model;
  }

  void handle(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    Access.mayStart(caller, Scope.GENERATE, "start generations");
    String prompt = ctx.request().getParam("prompt");
    if (prompt == null && ctx.body().length() > 0) {
      JsonObject body = ChatRequests.json(ctx.body().buffer());
      if (body.getValue("prompt") != null && !(body.getValue("prompt") instanceof String)) {
        throw ApiException.badRequest("invalid_prompt", "'prompt' must be a string", "prompt");
      }
      prompt = body.getString("prompt");
    }
    String format = ctx.request().getParam("format");
    if (format != null && !format.equals("text") && !format.equals("json")) {
      throw ApiException.badRequest(
          "invalid_format",
          "'format' must be text (data: <token>) or json (data: {\"token\": \"...\"})",
          "format");
    }
    WireFormat wire = "json".equals(format) ? WireFormat.SEED_JSON : WireFormat.SEED_SSE;
    if (prompt == null || prompt.isBlank()) {
      throw ApiException.badRequest(
          "invalid_prompt", "A prompt is required: ?prompt=... or {\"prompt\": \"...\"}", "prompt");
    }
    JsonObject body =
        new JsonObject()
            .put("model", model)
            .put(
                "messages",
                new JsonArray().add(new JsonObject().put("role", "user").put("content", prompt)));
    generations
        .start(
            new GenerationRequest(model, body, null, null, caller.creator()),
            AccessLog.receivedAt(ctx))
        .onSuccess(
            info -> {
              SseOutput.prepare(ctx.response(), info.id());
              SseOutput<GenerationEvent> output = new SseOutput<>(streams, ctx, wire);
              output.watch(streams.generation(info, 0, false, output));
            })
        .onFailure(ctx::fail);
  }
}
