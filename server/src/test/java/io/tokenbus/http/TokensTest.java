package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.Poll;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * JWTs minted by an app for its users, and the tokens tokenbus signs itself: a watch token for one
 * generation, and owner, join and view tokens for one session.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("JWT, watch tokens and session tokens")
class TokensTest {

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String SECRET = "an-hs256-secret-of-at-least-32-characters";

  private static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }

  private static KeyPair ecKeys() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(new ECGenParameterSpec("secp256r1"));
    return generator.generateKeyPair();
  }

  private static TestHub hub(Vertx vertx, KeyPair ec, Map<String, String> more) {
    Map<String, String> env = new HashMap<>(more);
    env.put("TOKENBUS_API_KEYS", "acme:" + ACME);
    env.put("TOKENBUS_JWT_SECRET", SECRET);
    env.put("TOKENBUS_JWT_PUBLIC_KEY", pem("PUBLIC KEY", ec.getPublic().getEncoded()));
    return await(TestHub.start(vertx, env));
  }

  /** What an app's backend does: sign claims with its secret (HS256) or private key (ES256). */
  private static String mint(Vertx vertx, String algorithm, String key, JsonObject claims) {
    JWTAuth signer =
        JWTAuth.create(
            vertx,
            new JWTAuthOptions()
                .addPubSecKey(new PubSecKeyOptions().setAlgorithm(algorithm).setBuffer(key)));
    return signer.generateToken(claims, new JWTOptions().setAlgorithm(algorithm));
  }

  private static JsonObject claims(String tenant, long expiresInSeconds) {
    return new JsonObject()
        .put("tenant", tenant)
        .put("exp", System.currentTimeMillis() / 1000 + expiresInSeconds);
  }

  private static HttpRequest<Buffer> as(String token, HttpRequest<Buffer> request) {
    return request.putHeader("Authorization", "Bearer " + token);
  }

  private static HttpResponse<Buffer> get(TestHub hub, String token, String path) {
    return await(as(token, hub.web().get(path)).send());
  }

  private static HttpResponse<Buffer> post(TestHub hub, String token, String path, JsonObject b) {
    return await(as(token, hub.web().post(path)).sendJsonObject(b));
  }

  private static void assertStatus(int status, String code, HttpResponse<Buffer> response) {
    assertEquals(status, response.statusCode(), response.bodyAsString());
    assertEquals(code, response.bodyAsJsonObject().getJsonObject("error").getString("code"), code);
  }

  @Test
  @DisplayName(
      "an app's HS256 and ES256 JWTs are accepted with their tenant; expired, wrongly signed or"
          + " tenant-less ones get 401, a missing scope 403")
  void appJwts(Vertx vertx) throws Exception {
    KeyPair ec = ecKeys();
    TestHub hub = hub(vertx, ec, Map.of());
    String hs = mint(vertx, "HS256", SECRET, claims("acme", 60).put("sub", "alice"));
    String es =
        mint(
            vertx,
            "ES256",
            pem("PRIVATE KEY", ec.getPrivate().getEncoded()),
            claims("globex", 60).put("sub", "bob"));

    HttpResponse<Buffer> acme = post(hub, hs, "/v1/generations", TestHub.mockRequest(3, 1000));
    assertEquals(201, acme.statusCode(), acme.bodyAsString());
    assertEquals("acme", acme.bodyAsJsonObject().getString("tenant"));
    HttpResponse<Buffer> globex = post(hub, es, "/v1/generations", TestHub.mockRequest(3, 1000));
    assertEquals(201, globex.statusCode(), globex.bodyAsString());
    assertEquals("globex", globex.bodyAsJsonObject().getString("tenant"));
    // The key's tenant sees the JWT user's generation; the other tenant does not.
    String acmeId = acme.bodyAsJsonObject().getString("id");
    assertEquals(200, get(hub, ACME, "/v1/generations/" + acmeId).statusCode());
    assertStatus(404, "generation_not_found", get(hub, es, "/v1/generations/" + acmeId));

    assertStatus(
        401,
        "invalid_api_key",
        get(hub, mint(vertx, "HS256", SECRET, claims("acme", -60)), "/v1/models"));
    assertStatus(
        401,
        "invalid_api_key",
        get(
            hub,
            mint(vertx, "HS256", "another-secret-of-at-least-32-characters", claims("acme", 60)),
            "/v1/models"));
    assertStatus(
        401,
        "invalid_api_key",
        get(
            hub,
            mint(
                vertx,
                "ES256",
                pem("PRIVATE KEY", ecKeys().getPrivate().getEncoded()),
                claims("acme", 60)),
            "/v1/models"));
    assertStatus(
        401,
        "invalid_api_key",
        get(
            hub,
            mint(vertx, "HS256", SECRET, new JsonObject().put("tenant", "acme")),
            "/v1/models"));
    JsonObject noTenant = claims("acme", 60);
    noTenant.remove("tenant");
    assertStatus(
        401, "invalid_api_key", get(hub, mint(vertx, "HS256", SECRET, noTenant), "/v1/models"));

    String watchOnly = mint(vertx, "HS256", SECRET, claims("acme", 60).put("scope", "watch"));
    assertEquals(200, get(hub, watchOnly, "/v1/generations/" + acmeId).statusCode());
    assertStatus(
        403,
        "permission_denied",
        post(hub, watchOnly, "/v1/chat/completions", TestHub.mockRequest(3, 1000)));
    assertStatus(403, "permission_denied", post(hub, watchOnly, "/v1/sessions", new JsonObject()));

    // A JWT's user is their chat name: they cannot post as anyone else.
    HttpResponse<Buffer> session = post(hub, hs, "/v1/sessions", new JsonObject());
    assertEquals(201, session.statusCode(), session.bodyAsString());
    String sessionId = session.bodyAsJsonObject().getString("id");
    HttpResponse<Buffer> posted =
        post(
            hub,
            hs,
            "/v1/sessions/" + sessionId + "/messages",
            new JsonObject().put("author", "mallory").put("content", "hi"));
    assertEquals(202, posted.statusCode(), posted.bodyAsString());
    assertEquals("alice", posted.bodyAsJsonObject().getJsonObject("message").getString("author"));
  }

  @Test
  @DisplayName("an RS256 JWT is verified with an RSA public key given as a file")
  void rs256(Vertx vertx) throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    KeyPair rsa = generator.generateKeyPair();
    Path file = Files.createTempFile("jwt-public", ".pem");
    try {
      Files.writeString(file, pem("PUBLIC KEY", rsa.getPublic().getEncoded()));
      TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_JWT_PUBLIC_KEY", file.toString())));
      String token =
          mint(
              vertx,
              "RS256",
              pem("PRIVATE KEY", rsa.getPrivate().getEncoded()),
              claims("initech", 60).put("sub", "milton"));
      HttpResponse<Buffer> created =
          post(hub, token, "/v1/generations", TestHub.mockRequest(3, 1000));
      assertEquals(201, created.statusCode(), created.bodyAsString());
      assertEquals("initech", created.bodyAsJsonObject().getString("tenant"));
      assertStatus(401, "invalid_api_key", get(hub, "not-a-key-at-all-000", "/v1/models"));
    } finally {
      Files.deleteIfExists(file);
    }
  }

  @Test
  @DisplayName(
      "a JWT restricted to one generation reads only that one: another is 404, starting one 403")
  void restrictedJwt(Vertx vertx) throws Exception {
    TestHub hub = hub(vertx, ecKeys(), Map.of());
    String one =
        await(
                hub.web()
                    .post("/v1/generations")
                    .putHeader("Authorization", "Bearer " + ACME)
                    .sendJsonObject(TestHub.mockRequest(3, 1000)))
            .bodyAsJsonObject()
            .getString("id");
    String other =
        await(
                hub.web()
                    .post("/v1/generations")
                    .putHeader("Authorization", "Bearer " + ACME)
                    .sendJsonObject(TestHub.mockRequest(3, 1000)))
            .bodyAsJsonObject()
            .getString("id");
    String token = mint(vertx, "HS256", SECRET, claims("acme", 60).put("generation", one));
    assertEquals(200, get(hub, token, "/v1/generations/" + one).statusCode());
    assertStatus(404, "generation_not_found", get(hub, token, "/v1/generations/" + other));
    assertStatus(
        403,
        "permission_denied",
        post(hub, token, "/v1/generations", TestHub.mockRequest(3, 1000)));
  }

  @Test
  @DisplayName(
      "a watch token reads its one generation over SSE (access_token), status and WebSocket; it"
          + " may not start, cancel, read another generation or a session, and it expires")
  void watchTokens(Vertx vertx) throws Exception {
    TestHub hub = hub(vertx, ecKeys(), Map.of("TOKENBUS_AUTH_WATCH_TOKEN_TTL_SECONDS", "2"));
    HttpResponse<Buffer> created = post(hub, ACME, "/v1/generations", TestHub.mockRequest(20, 200));
    assertEquals(201, created.statusCode());
    String id = created.bodyAsJsonObject().getString("id");
    String watch = created.bodyAsJsonObject().getString("watch_token");
    assertNotNull(watch);
    assertFalse(created.bodyAsString().contains(ACME));

    SseClient events =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                "/v1/generations/" + id + "/events?access_token=" + watch,
                Map.of()));
    await(events.ended(), 10);
    assertEquals(MockText.text(20), SseEvent.text(events.events().items()));
    assertEquals(200, get(hub, watch, "/v1/generations/" + id).statusCode());
    WsClient socket = await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + watch));
    socket.send(new JsonObject().put("type", "subscribe").put("generation", id));
    await(socket.frames().whenAny(f -> "done".equals(f.getString("type"))));
    socket.send(
        new JsonObject().put("type", "generate").put("request", TestHub.mockRequest(3, 1000)));
    assertEquals(
        "permission_denied",
        await(socket.frames().whenAny(f -> "error".equals(f.getString("type")))).getString("code"));

    String other =
        post(hub, ACME, "/v1/generations", TestHub.mockRequest(3, 1000))
            .bodyAsJsonObject()
            .getString("id");
    assertStatus(404, "generation_not_found", get(hub, watch, "/v1/generations/" + other));
    assertStatus(
        403,
        "permission_denied",
        post(hub, watch, "/v1/generations", TestHub.mockRequest(3, 1000)));
    assertStatus(
        403,
        "permission_denied",
        post(hub, watch, "/v1/generations/" + id + "/cancel", new JsonObject()));
    assertStatus(403, "permission_denied", post(hub, watch, "/v1/sessions", new JsonObject()));

    // The chat completions endpoint hands one out in a header.
    HttpResponse<Buffer> chat =
        post(hub, ACME, "/v1/chat/completions", TestHub.mockRequest(3, 1000));
    String chatWatch = chat.getHeader("X-Watch-Token");
    assertNotNull(chatWatch);
    assertEquals(
        200,
        get(hub, chatWatch, "/v1/generations/" + chat.getHeader("X-Generation-Id")).statusCode());

    // auth.watch-token-ttl-seconds is 2 here: the token stops working.
    await(
        Poll.until(
            vertx,
            () -> as(watch, hub.web().get("/v1/generations/" + id)).send(),
            r -> r.statusCode() == 401,
            10_000));
  }

  @Test
  @DisplayName(
      "owner, join and view tokens: the owner and a participant read, post, type and stop; a"
          + " viewer only reads; none reaches another session or a generation")
  void sessionTokens(Vertx vertx) throws Exception {
    TestHub hub = hub(vertx, ecKeys(), Map.of());
    HttpResponse<Buffer> created =
        post(hub, ACME, "/v1/sessions", new JsonObject().put("title", "shared"));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    JsonObject session = created.bodyAsJsonObject();
    String id = session.getString("id");
    String owner = session.getString("owner_token");
    String join = session.getString("join_token");
    String view = session.getString("view_token");
    assertTrue(session.getString("share_url").endsWith("/?session=" + id + "#token=" + join));
    assertTrue(session.getString("view_url").endsWith("/?session=" + id + "#token=" + view));
    assertTrue(session.getString("owner_url").endsWith("/?session=" + id + "#token=" + owner));
    String base = "/v1/sessions/" + id;

    for (String token : new String[] {owner, join}) {
      assertEquals(200, get(hub, token, base).statusCode());
      assertEquals(
          202,
          post(
                  hub,
                  token,
                  base + "/messages",
                  new JsonObject().put("author", "Ann").put("content", "hello"))
              .statusCode());
      assertEquals(
          204,
          post(hub, token, base + "/typing", new JsonObject().put("author", "Ann")).statusCode());
      assertEquals(200, post(hub, token, base + "/stop", new JsonObject()).statusCode());
    }
    // Only the owner is handed the links to share.
    assertNotNull(get(hub, owner, base).bodyAsJsonObject().getString("view_url"));
    assertNull(get(hub, join, base).bodyAsJsonObject().getString("view_url"));

    assertEquals(200, get(hub, view, base).statusCode());
    SseClient watching =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                base + "/events?access_token=" + view,
                Map.of()));
    await(watching.events().whenAny(e -> e.event().equals("state")));
    assertStatus(
        403,
        "permission_denied",
        post(
            hub,
            view,
            base + "/messages",
            new JsonObject().put("author", "V").put("content", "x")));
    assertStatus(403, "permission_denied", post(hub, view, base + "/stop", new JsonObject()));
    assertStatus(
        403,
        "permission_denied",
        post(hub, view, base + "/typing", new JsonObject().put("author", "V")));
    assertStatus(403, "permission_denied", get(hub, view, base + "/events?author=V"));

    WsClient socket = await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + view));
    socket.send(new JsonObject().put("type", "join").put("session", id).put("author", "V"));
    assertEquals(
        "permission_denied",
        await(socket.frames().whenAny(f -> "error".equals(f.getString("type")))).getString("code"));
    socket.send(new JsonObject().put("type", "join").put("session", id));
    await(socket.frames().whenAny(f -> "state".equals(f.getString("type"))));

    String other =
        post(hub, ACME, "/v1/sessions", new JsonObject()).bodyAsJsonObject().getString("id");
    for (String token : new String[] {owner, join, view}) {
      assertStatus(404, "session_not_found", get(hub, token, "/v1/sessions/" + other));
      assertStatus(403, "permission_denied", post(hub, token, "/v1/sessions", new JsonObject()));
      assertStatus(
          403,
          "permission_denied",
          post(hub, token, "/v1/chat/completions", TestHub.mockRequest(3, 1000)));
    }
  }

  @Test
  @DisplayName(
      "a restricted credential gets the same answer for another tenant's id as for an unknown one,"
          + " on every endpoint and frame it may not use")
  void restrictedCredentialsCannotProbe(Vertx vertx) throws Exception {
    TestHub hub = hub(vertx, ecKeys(), Map.of());
    // acme's things, which globex's restricted credentials probe for.
    String generation =
        post(hub, ACME, "/v1/generations", TestHub.mockRequest(400, 20))
            .bodyAsJsonObject()
            .getString("id");
    String session =
        post(hub, ACME, "/v1/sessions", new JsonObject()).bodyAsJsonObject().getString("id");
    // A watch token of globex's (what a browser of globex's holds).
    String watch =
        post(
                hub,
                mint(vertx, "HS256", SECRET, claims("globex", 60)),
                "/v1/generations",
                TestHub.mockRequest(3, 1000))
            .bodyAsJsonObject()
            .getString("watch_token");
    String forSession = mint(vertx, "HS256", SECRET, claims("globex", 60).put("session", "s"));

    record Probe(String token, String method, String path) {}
    for (Probe probe :
        new Probe[] {
          new Probe(watch, "POST", "/v1/sessions/%s/stop"),
          new Probe(watch, "GET", "/v1/sessions/%s"),
          new Probe(forSession, "GET", "/v1/generations/%s"),
          new Probe(forSession, "POST", "/v1/generations/%s/cancel"),
        }) {
      String real = probe.path().contains("sessions") ? session : generation;
      HttpResponse<Buffer> known =
          probe.method().equals("GET")
              ? get(hub, probe.token(), probe.path().formatted(real))
              : post(hub, probe.token(), probe.path().formatted(real), new JsonObject());
      HttpResponse<Buffer> unknown =
          probe.method().equals("GET")
              ? get(hub, probe.token(), probe.path().formatted("nope"))
              : post(hub, probe.token(), probe.path().formatted("nope"), new JsonObject());
      assertEquals(unknown.statusCode(), known.statusCode(), probe.toString());
      assertEquals(403, known.statusCode(), probe.toString());
    }

    for (String[] frame :
        new String[][] {{watch, "cancel", "generation"}, {forSession, "subscribe", "generation"}}) {
      WsClient socket =
          await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + frame[0]));
      for (String id : new String[] {generation, "nope"}) {
        socket.send(new JsonObject().put("type", frame[1]).put(frame[2], id));
        assertEquals(
            "permission_denied",
            await(
                    socket
                        .frames()
                        .whenAny(
                            f ->
                                "error".equals(f.getString("type"))
                                    && id.equals(f.getString(frame[2]))))
                .getString("code"),
            frame[1] + " " + id);
      }
    }
  }

  @Test
  @DisplayName(
      "a WebSocket opened with a JWT is closed (1008, after an error frame) when the JWT expires")
  void webSocketEndsWithItsJwt(Vertx vertx) throws Exception {
    TestHub hub = hub(vertx, ecKeys(), Map.of());
    String shortLived = mint(vertx, "HS256", SECRET, claims("acme", 2));
    WsClient socket =
        await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + shortLived));
    socket.send(
        new JsonObject().put("type", "generate").put("request", TestHub.mockRequest(3, 1000)));
    await(socket.frames().whenAny(f -> "done".equals(f.getString("type"))));
    assertEquals((short) 1008, await(socket.closed(), 10));
    assertEquals(
        "invalid_api_key",
        await(socket.frames().whenAny(f -> "error".equals(f.getString("type")))).getString("code"));
  }
}
