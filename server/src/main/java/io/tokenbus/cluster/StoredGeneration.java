package io.tokenbus.cluster;

import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.SessionLink;
import io.tokenbus.generation.GenerationInfo;
import io.vertx.core.json.JsonObject;
import java.io.Serializable;
import java.util.ArrayList;

/**
 * One generation as the cluster stores it: its metadata, owner and epoch, and its event log. Held
 * as an object in the map (in-memory format OBJECT) and changed only by entry processors on the
 * partition that owns it, so appends happen in place, one at a time.
 */
final class StoredGeneration implements Serializable {

  final String id;
  final String model;
  final long created;

  /** The request body as JSON text; once it ends, only its model (see {@link #dropPrompt}). */
  String body;

  final Integer maxTokens;
  final Double mockTokensPerSecond;
  final SessionLink session;
  final Creator creator;

  /** The node writing it; null once released or never re-owned. */
  String owner;

  /** The node that released it on shutdown, which must not take it back. */
  String releasedBy;

  long epoch;
  final ArrayList<GenerationEvent> events = new ArrayList<>();
  boolean ended;

  /**
   * Cuts the request down to what a finished generation's status needs: a client could otherwise
   * keep a megabyte of prompt per request for the whole retention period. Deterministic, so the
   * backup does the same.
   */
  void dropPrompt() {
    body = new JsonObject().put("model", model).encode();
  }

  StoredGeneration(GenerationInfo info) {
    this.id = info.id();
    this.model = info.model();
    this.created = info.created();
    this.body = info.request().body().encode();
    this.maxTokens = info.request().maxTokens();
    this.mockTokensPerSecond = info.request().mockTokensPerSecond();
    this.session = info.request().session();
    this.creator = info.request().creator();
    this.owner = info.owner();
    this.epoch = info.epoch();
  }
}
