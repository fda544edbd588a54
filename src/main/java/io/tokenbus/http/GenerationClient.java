package io.tokenbus.http;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.ControlCommand;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.StartReply;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;

/** The HTTP side's view of the workers: start a generation, cancel one. Failures are {@link ApiException}s. */
final class GenerationClient {

  private static final DeliveryOptions START = new DeliveryOptions().setSendTimeout(10_000);
  private static final DeliveryOptions CONTROL = new DeliveryOptions().setSendTimeout(5_000);

  private final Vertx vertx;
  private final GenerationStore store;

  GenerationClient(Vertx vertx, GenerationStore store) {
    this.vertx = vertx;
    this.store = store;
  }

  /** Sends the request to a worker; completes with the started generation. */
  Future<GenerationInfo> start(GenerationRequest request) {
    return vertx.eventBus().<StartReply>request(Addresses.WORK, request, START)
        .recover(e -> Future.failedFuture(new ApiException(new Failure(503, "api_error", "no_worker",
            "No generation worker could take the request: " + e.getMessage()))))
        .compose(message -> {
          StartReply reply = message.body();
          if (reply.failure() != null) {
            return Future.failedFuture(new ApiException(reply.failure()));
          }
          return store.info(reply.generationId());
        });
  }

  /** Asks the owner to cancel; fails with NO_HANDLERS when the generation has already ended. */
  Future<Void> cancel(String id) {
    return vertx.eventBus().request(Addresses.control(id), ControlCommand.CANCEL, CONTROL).mapEmpty();
  }

  static boolean noOwner(Throwable e) {
    return e instanceof ReplyException reply && reply.failureType() == ReplyFailure.NO_HANDLERS;
  }
}
