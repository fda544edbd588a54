package io.tokenbus.bus;

/**
 * Every event-bus address tokenbus uses, in one place.
 *
 * <ul>
 *   <li>{@link #WORK}: generation requests, sent to one worker (round-robin);
 *   <li>{@code tokenbus.work.loop.<thread>}: node-local, the worker on that event loop, tried
 *       first;
 *   <li>{@link #RESUME}: taken-over generations, to a worker of the same node;
 *   <li>{@code tokenbus.gen.<id>.events}: the generation's published event batches;
 *   <li>{@code tokenbus.gen.<id>.control}: commands for the generation's owner (cancel, watched);
 *   <li>{@code tokenbus.session.<id>.events}: the chat session's published event batches;
 *   <li>{@code tokenbus.node.<node id>.probe}: one node, answering that its event bus is reachable.
 * </ul>
 */
public final class Addresses {

  public static final String WORK = "tokenbus.work";

  /**
   * The header of a request on {@link #WORK} naming the id the generation is to have: the client
   * chooses it, so that the tenant's running slot is taken under it before any worker is asked.
   */
  public static final String GENERATION_ID_HEADER = "tokenbus-generation-id";

  /**
   * Header of a start request: when the node that took the client's request began starting it (Unix
   * milliseconds), where the generation's time to first token is counted from.
   */
  public static final String RECEIVED_AT_HEADER = "tokenbus-received-at";

  /** Node-local: generations this node has taken over, for one of its workers to continue. */
  public static final String RESUME = "tokenbus.work.resume";

  private static final String GENERATION_PREFIX = "tokenbus.gen.";

  /**
   * Node-local: the generation worker whose event loop is {@code loop}. A request sent from that
   * loop (the HTTP verticle sharing it) is run there first, with no thread hop on its way to the
   * first token.
   */
  public static String workOn(Thread loop) {
    return WORK + ".loop." + loop.getName();
  }

  private Addresses() {}

  public static String events(String generationId) {
    return GENERATION_PREFIX + generationId + ".events";
  }

  /** The generation whose events address this is, or null for any other address. */
  public static String generationOfEvents(String address) {
    return address.startsWith(GENERATION_PREFIX) && address.endsWith(".events")
        ? address.substring(GENERATION_PREFIX.length(), address.length() - ".events".length())
        : null;
  }

  public static String control(String generationId) {
    return GENERATION_PREFIX + generationId + ".control";
  }

  /**
   * Where a cluster node answers probes of its event bus ({@code cluster.EventBusProbeVerticle}).
   */
  public static String probe(String nodeId) {
    return "tokenbus.node." + nodeId + ".probe";
  }

  /** Where a chat session's events are published, once the store has them. */
  public static String sessionEvents(String session) {
    return "tokenbus.session." + session + ".events";
  }
}
