package io.tokenbus.http;

import io.tokenbus.auth.Grant;
import io.tokenbus.auth.Principal;
import io.tokenbus.auth.Scope;
import io.tokenbus.bus.Failure;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.Future;
import io.vertx.ext.web.RoutingContext;
import java.util.Locale;

/**
 * Who may do what, asked in one place by every endpoint and WebSocket frame, in two steps. Before
 * any lookup, what the credential may do at all: the scope, the kind of thing a restricted token
 * names, a view token's read-only part (else 403 {@code permission_denied}), so that a 403 never
 * depends on an id. After it, whether this one is the caller's: what belongs to another tenant, or
 * to another id than a restricted credential names, answers exactly as an unknown id does (404), so
 * that no answer confirms that someone else's generation or session exists.
 */
final class Access {

  /** What is asked of a session: reading it, or taking part (post, type, stop). */
  enum SessionNeed {
    READ,
    TAKE_PART
  }

  private Access() {}

  /** The caller, as {@link AuthHandler} put it on the context. */
  static Principal caller(RoutingContext ctx) {
    return ctx.get(AuthHandler.PRINCIPAL);
  }

  /**
   * Checks that {@code caller} may start something new with {@code scope}: a credential restricted
   * to one generation or session may only use that one.
   */
  static void mayStart(Principal caller, Scope scope, String what) {
    require(caller, scope, what);
    if (caller.grant() != null) {
      throw denied(
          "This token is restricted to one " + kindName(caller.grant()) + "; it may not " + what);
    }
  }

  /** 403 unless {@code caller} has {@code scope}. */
  static void require(Principal caller, Scope scope, String what) {
    if (!caller.may(scope)) {
      throw denied(
          "This credential may not "
              + what
              + ": it lacks the '"
              + scope.name().toLowerCase(Locale.ROOT)
              + "' scope");
    }
  }

  /**
   * Before any lookup: 403 unless {@code caller} may do {@code what} to a generation with {@code
   * scope} (it has the scope, and is not a token for a session). Checked first so that the answer
   * never depends on whether an id exists.
   */
  static void mayUseGenerations(Principal caller, Scope scope, String what) {
    require(caller, scope, what);
    Grant grant = caller.grant();
    if (grant != null && grant.kind() != Grant.Kind.GENERATION) {
      throw denied("This token is restricted to one session; it may not " + what);
    }
  }

  /**
   * Before a listing: 403 unless {@code caller} may see generations at all (the {@code watch} or
   * {@code generate} scope) and is not restricted to one generation or session, which a listing
   * would reach past. Which generations it lists is the tenant's business ({@link Principal#sees}),
   * as for one generation.
   */
  static void mayListGenerations(Principal caller) {
    if (!caller.may(Scope.WATCH) && !caller.may(Scope.GENERATE)) {
      throw denied(
          "This credential may not list generations: it has neither the 'watch' nor the 'generate'"
              + " scope");
    }
    if (caller.grant() != null) {
      throw denied(
          "This token is restricted to one "
              + kindName(caller.grant())
              + "; it may not list generations");
    }
  }

  /**
   * After the lookup: whether {@code caller} reaches generation {@code info}; false (answer as for
   * an unknown id) for another tenant's, or another than the one a restricted credential names.
   */
  static boolean reaches(Principal caller, GenerationInfo info) {
    Grant grant = caller.grant();
    return caller.sees(info.request().creator().tenant())
        && (grant == null || grant.id().equals(info.id()));
  }

  /**
   * Before any lookup: 403 unless {@code caller} may do {@code need} to a session (the {@code
   * sessions} scope, not a token for a generation, and not a view token to take part).
   */
  static void mayUseSessions(Principal caller, SessionNeed need) {
    String what = need == SessionNeed.READ ? "read chat sessions" : "take part in chat sessions";
    require(caller, Scope.SESSIONS, what);
    Grant grant = caller.grant();
    if (grant != null && grant.kind() != Grant.Kind.SESSION) {
      throw denied("This token is restricted to one generation; it may not " + what);
    }
    if (grant != null && need == SessionNeed.TAKE_PART && grant.role() == Grant.Role.VIEWER) {
      throw denied("A view token may only read a session");
    }
  }

  /**
   * After the lookup: whether {@code caller} reaches session {@code id} of {@code tenant}; false
   * (answer as for an unknown id) for another tenant's, or another than a token names.
   */
  static boolean reaches(Principal caller, String id, String tenant) {
    Grant grant = caller.grant();
    return caller.sees(tenant) && (grant == null || grant.id().equals(id));
  }

  static ApiException denied(String message) {
    return new ApiException(
        new Failure(403, "invalid_request_error", "permission_denied", message));
  }

  /**
   * The failure for a generation the store does not hold: 404 {@code generation_expired} when it
   * ended and was dropped (evicted or past its retention) and is the caller's to know about, else
   * {@code generation_not_found}, as for an id that never existed.
   */
  static <T> Future<T> notFound(GenerationStore store, Principal caller, String id) {
    return store
        .gone(id)
        .recover(e -> Future.succeededFuture())
        .compose(
            tenant -> {
              Grant grant = caller.grant();
              boolean visible =
                  tenant != null && caller.sees(tenant) && (grant == null || grant.id().equals(id));
              return Future.failedFuture(
                  visible
                      ? ApiException.notFound(
                          "generation_expired",
                          "Generation '"
                              + id
                              + "' has ended and is no longer kept (generation.retention-seconds,"
                              + " generation.max-retained, generation.max-retained-bytes)")
                      : generationNotFound(id));
            });
  }

  static ApiException generationNotFound(String id) {
    return ApiException.notFound(
        "generation_not_found", "No generation with id '" + id + "' (unknown or expired)");
  }

  static ApiException sessionNotFound(String id) {
    return ApiException.notFound(
        "session_not_found", "No session '" + id + "' (unknown or expired)");
  }

  private static String kindName(Grant grant) {
    return grant.kind() == Grant.Kind.GENERATION ? "generation" : "session";
  }
}
