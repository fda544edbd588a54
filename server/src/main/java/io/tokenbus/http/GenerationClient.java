package io.tokenbus.http;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.ControlCommand;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.StartReply;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;

/**
 * The HTTP side's view of the workers: start a generation, cancel one. Failures are {@link
 * ApiException}s.
 */
public final class GenerationClient {

  private static final DeliveryOptions START = new DeliveryOptions().setSendTimeout(10_000);
  private static final DeliveryOptions CONTROL = new DeliveryOptions().setSendTimeout(5_000);

  /** The worker on this loop, if any: never looked up in the cluster. */
  private static final DeliveryOptions LOCAL_START =
      new DeliveryOptions().setSendTimeout(10_000).setLocalOnly(true);

  private final Vertx vertx;
  private final GenerationStore store;
  private final int placementAttempts;

  public GenerationClient(Vertx vertx, GenerationStore store, int placementAttempts) {
    this.vertx = vertx;
    this.store = store;
    this.placementAttempts = placementAttempts;
  }

  /**
   * Sends the request to a worker; completes with the started generation. The worker on the
   * caller's own event loop is asked first, if there is one (the HTTP verticles and the workers
   * share the node's loops): the generation then runs where its first viewer reads it, and its
   * first token crosses no thread on the way. Otherwise, or when this node is full, the request
   * goes round-robin over every node's workers: a worker whose node is full refuses with {@code
   * capacity_exceeded}, and the request is offered to the next one, up to {@code
   * generation.placement-attempts} offers in all.
   */
  public Future<GenerationInfo> start(GenerationRequest request) {
    return placeHereFirst(request)
        .compose(
            reply ->
                reply.failure() != null
                    ? Future.failedFuture(new ApiException(reply.failure()))
                    : store.info(reply.generationId()));
  }

  private Future<StartReply> placeHereFirst(GenerationRequest request) {
    if (!Context.isOnEventLoopThread()) {
      return place(request, 1);
    }
    return ask(Addresses.workOn(Thread.currentThread()), request, LOCAL_START)
        .compose(
            reply ->
                full(reply) && placementAttempts > 1
                    ? place(request, 2)
                    : Future.succeededFuture(reply),
            e -> noOwner(e) ? place(request, 1) : Future.failedFuture(unavailable(e)));
  }

  private Future<StartReply> place(GenerationRequest request, int attempt) {
    return ask(Addresses.WORK, request, START)
        .compose(
            reply ->
                full(reply) && attempt < placementAttempts
                    ? place(request, attempt + 1)
                    : Future.succeededFuture(reply),
            e -> Future.failedFuture(unavailable(e)));
  }

  private Future<StartReply> ask(
      String address, GenerationRequest request, DeliveryOptions options) {
    return vertx.eventBus().<StartReply>request(address, request, options).map(Message::body);
  }

  private static boolean full(StartReply reply) {
    return reply.failure() != null && "capacity_exceeded".equals(reply.failure().code());
  }

  private static ApiException unavailable(Throwable e) {
    return new ApiException(
        new Failure(
            503,
            "api_error",
            "no_worker",
            "No generation worker could take the request: " + e.getMessage()));
  }

  /** Asks the owner to cancel; fails with NO_HANDLERS when the generation has already ended. */
  Future<Void> cancel(String id) {
    return vertx
        .eventBus()
        .request(Addresses.control(id), ControlCommand.CANCEL, CONTROL)
        .mapEmpty();
  }

  static boolean noOwner(Throwable e) {
    return e instanceof ReplyException reply && reply.failureType() == ReplyFailure.NO_HANDLERS;
  }
}
