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
public final class GenerationClient {

  private static final DeliveryOptions START = new DeliveryOptions().setSendTimeout(10_000);
  private static final DeliveryOptions CONTROL = new DeliveryOptions().setSendTimeout(5_000);

  private final Vertx vertx;
  private final GenerationStore store;
  private final int placementAttempts;

  public GenerationClient(Vertx vertx, GenerationStore store, int placementAttempts) {
    this.vertx = vertx;
    this.store = store;
    this.placementAttempts = placementAttempts;
  }

  /**
   * Sends the request to a worker; completes with the started generation. A worker whose node is
   * full refuses with {@code capacity_exceeded}, and the request is offered to the next one
   * (round-robin over every node's workers), up to {@code generation.placement-attempts} times.
   */
  public Future<GenerationInfo> start(GenerationRequest request) {
    return place(request, 1).compose(reply -> reply.failure() != null
        ? Future.failedFuture(new ApiException(reply.failure()))
        : store.info(reply.generationId()));
  }

  private Future<StartReply> place(GenerationRequest request, int attempt) {
    return vertx.eventBus().<StartReply>request(Addresses.WORK, request, START)
        .recover(e -> Future.failedFuture(new ApiException(new Failure(503, "api_error", "no_worker",
            "No generation worker could take the request: " + e.getMessage()))))
        .compose(message -> {
          StartReply reply = message.body();
          boolean full = reply.failure() != null && "capacity_exceeded".equals(reply.failure().code());
          return full && attempt < placementAttempts ? place(request, attempt + 1) : Future.succeededFuture(reply);
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
