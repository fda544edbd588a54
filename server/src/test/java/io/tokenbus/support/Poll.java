package io.tokenbus.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Re-checks an asynchronous condition on a timer until it holds, for states only visible by asking
 * (such as a status endpoint).
 */
public final class Poll {

  private Poll() {}

  public static <T> Future<T> until(
      Vertx vertx, Supplier<Future<T>> probe, Predicate<T> condition, long timeoutMs) {
    Promise<T> promise = Promise.promise();
    long deadline = System.currentTimeMillis() + timeoutMs;
    check(vertx, probe, condition, deadline, promise);
    return promise.future();
  }

  private static <T> void check(
      Vertx vertx,
      Supplier<Future<T>> probe,
      Predicate<T> condition,
      long deadline,
      Promise<T> promise) {
    probe
        .get()
        .onComplete(
            ar -> {
              if (ar.succeeded() && condition.test(ar.result())) {
                promise.complete(ar.result());
              } else if (System.currentTimeMillis() > deadline) {
                promise.fail(
                    new AssertionError(
                        "condition not reached; last value: "
                            + (ar.succeeded() ? ar.result() : ar.cause())));
              } else {
                vertx.setTimer(20, t -> check(vertx, probe, condition, deadline, promise));
              }
            });
  }
}
