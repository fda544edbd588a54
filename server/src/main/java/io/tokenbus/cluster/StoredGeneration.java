package io.tokenbus.cluster;

import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.SessionLink;
import io.tokenbus.generation.GenerationInfo;
import io.vertx.core.json.JsonObject;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Map;

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

  /** The client's metadata; kept when the prompt is dropped. */
  final Map<String, String> metadata;

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
    this(
        info.id(),
        info.model(),
        info.created(),
        info.request().body().encode(),
        info.request().maxTokens(),
        info.request().mockTokensPerSecond(),
        info.request().session(),
        info.request().creator(),
        info.request().metadata());
    this.owner = info.owner();
    this.epoch = info.epoch();
  }

  /** A generation with no owner, epoch 0 and no events yet: what {@link ClusterCodecs} fills. */
  StoredGeneration(
      String id,
      String model,
      long created,
      String body,
      Integer maxTokens,
      Double mockTokensPerSecond,
      SessionLink session,
      Creator creator,
      Map<String, String> metadata) {
    this.id = id;
    this.model = model;
    this.created = created;
    this.body = body;
    this.maxTokens = maxTokens;
    this.mockTokensPerSecond = mockTokensPerSecond;
    this.session = session;
    this.creator = creator;
    this.metadata = GenerationRequest.metadataOf(metadata);
  }
}
