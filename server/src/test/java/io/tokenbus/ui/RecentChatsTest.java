package io.tokenbus.ui;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.Browser;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;

/** The chat page's list of recent chats, in real headless Chromium against a real hub. */
@ExtendWith(VertxExtension.class)
@DisplayName("Chat page in a browser: recent chats to come back to")
class RecentChatsTest {

  private static final int PAGE_SECONDS = 15;
  private static final int ANSWER_SECONDS = 30;
  private static final String KEY = "tokenbus.recent";

  /** The recent chats the landing page lists, read in one script. */
  private static final String LISTED =
      """
      return Array.from(document.querySelectorAll('#recent-list .recent-chat')).map(li => ({
        id: li.dataset.session || '',
        title: li.querySelector('.recent-title').textContent,
        meta: li.querySelector('.recent-meta').textContent}));""";

  private TestHub hub;
  private String base;
  private final List<Browser> browsers = new ArrayList<>();

  /** One recent chat as the landing page lists it. */
  record Listed(String id, String title, String meta) {}

  @BeforeEach
  void start(Vertx vertx) {
    hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "TOKENBUS_MOCK_TOKENS_PER_SECOND", "200",
                    "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS", "40")));
    base = "http://127.0.0.1:" + hub.port() + "/";
  }

  @AfterEach
  void closeBrowsers() {
    browsers.forEach(Browser::close);
  }

  @Test
  @DisplayName(
      "a chat created on the page is listed on the landing page with its title; a click reopens it"
          + " with its transcript, and forget removes it")
  void reopenAndForget() {
    Browser ann = browser();
    ann.open(base);
    awaitLanding(ann);
    assertFalse(ann.driver().findElement(By.id("recent")).isDisplayed(), "no list before any chat");
    ann.driver().findElement(By.id("title")).sendKeys("Team chat");
    ann.driver().findElement(By.id("create")).click();
    String id =
        ann.waitUntil(
            d -> session(d.getCurrentUrl()).orElse(null),
            PAGE_SECONDS,
            "#create navigates to /?session=<id>");
    join(ann, "Ann");
    send(ann, "What does tokenbus do?");
    String answer = completedAnswer(ann);

    ann.open(base); // a fresh navigation, as a person coming back would make
    Listed listed = awaitListed(ann, id);
    assertEquals("Team chat", listed.title());
    assertTrue(listed.meta().contains("just now"), "the time it was last opened: " + listed);
    JsonObject stored = stored(ann).getJsonObject(0);
    assertEquals(id, stored.getString("id"));
    assertEquals("Team chat", stored.getString("title"));
    assertTrue(stored.getLong("opened") > 0, stored.encode());
    ann.screenshot("recent-chats");

    ann.driver()
        .findElement(By.cssSelector("#recent-list [data-session='" + id + "'] .recent-open"))
        .click();
    ann.waitUntil(
        d -> session(d.getCurrentUrl()).filter(id::equals).orElse(null),
        PAGE_SECONDS,
        "the entry reopens /?session=<id>");
    URI reopened = URI.create(ann.driver().getCurrentUrl());
    assertFalse(
        reopened.getRawQuery().contains("token"), "no token in the query string: " + reopened);
    String token = stored.getString("token");
    assertEquals(
        token == null ? null : "token=" + token,
        reopened.getRawFragment(),
        "the token this browser used, in the fragment only");
    awaitLive(ann);
    List<String> transcript =
        ann.waitUntil(
            d -> {
              List<String> shown = shownTexts(ann);
              return shown.size() == 2 ? shown : null;
            },
            PAGE_SECONDS,
            "the reopened chat shows its question and its answer");
    assertEquals("What does tokenbus do?", transcript.get(0).trim());
    assertEquals(words(answer), words(transcript.get(1)));

    ann.open(base);
    awaitListed(ann, id);
    ann.driver()
        .findElement(By.cssSelector("#recent-list [data-session='" + id + "'] .forget"))
        .click();
    ann.waitUntil(d -> listed(ann).isEmpty(), PAGE_SECONDS, "forget removes the entry");
    assertTrue(stored(ann).isEmpty(), "and forgets it in localStorage: " + stored(ann));
    ann.open(base);
    awaitLanding(ann);
    assertTrue(listed(ann).isEmpty(), "a forgotten chat stays forgotten");
  }

  @Test
  @DisplayName(
      "an entry whose session is gone says so when opened, from the list or from its link, and"
          + " leaves the list")
  void goneSessionLeavesTheList() {
    Browser ann = browser();
    ann.open(base);
    awaitLanding(ann);
    String gone = "sess_" + "gone".repeat(5); // well formed, never created
    ann.script(
        "localStorage.setItem(arguments[0], JSON.stringify([{id: arguments[1], title: 'Old chat',"
            + " token: null, role: null, opened: Date.now() - 3 * 3600 * 1000}]))",
        KEY,
        gone);
    ann.open(base);
    Listed listed = awaitListed(ann, gone);
    assertEquals("Old chat", listed.title());
    assertTrue(listed.meta().contains("3 hours ago"), listed.toString());

    ann.driver().findElement(By.cssSelector("#recent-list .recent-open")).click();
    String message =
        ann.waitUntil(
            d -> Optional.of(text(d, "#recent-error")).filter(t -> !t.isBlank()).orElse(null),
            PAGE_SECONDS,
            "#recent-error says the chat is gone");
    assertTrue(message.contains("Old chat") && message.contains("no longer exists"), message);
    ann.waitUntil(d -> listed(ann).isEmpty(), PAGE_SECONDS, "the gone chat leaves the list");
    assertTrue(stored(ann).isEmpty(), stored(ann).encode());
    assertEquals(base, ann.driver().getCurrentUrl(), "the page stays on the list");

    // Its link, opened directly (another tab, a bookmark), says so too and drops it as well.
    ann.script("localStorage.setItem('tokenbus.name', 'Ann')");
    ann.open(base + "?session=" + gone);
    String chatError =
        ann.waitUntil(
            d -> Optional.of(text(d, "#chat-error")).filter(t -> !t.isBlank()).orElse(null),
            PAGE_SECONDS,
            "#chat-error says the chat is gone");
    assertTrue(chatError.contains("no longer exists"), chatError);
    assertTrue(stored(ann).isEmpty(), "the link's entry is dropped: " + stored(ann).encode());
  }

  @Test
  @DisplayName(
      "an entry without a token (auth off) reopens its chat through a link with no fragment")
  void entryWithoutToken() {
    String id =
        await(hub.post("/v1/sessions", new JsonObject().put("title", "Open chat")))
            .bodyAsJsonObject()
            .getString("id");
    Browser ann = browser();
    ann.open(base);
    awaitLanding(ann);
    ann.script(
        "localStorage.setItem('tokenbus.name', 'Ann');"
            + "localStorage.setItem(arguments[0], JSON.stringify([{id: arguments[1], title: '',"
            + " token: null, role: null, opened: Date.now()}]))",
        KEY,
        id);
    ann.open(base);
    Listed listed = awaitListed(ann, id);
    assertEquals("Untitled chat", listed.title(), "a blank title has a fallback");
    assertEquals("just now", listed.meta(), "no role without a token");

    ann.driver().findElement(By.cssSelector("#recent-list .recent-open")).click();
    ann.waitUntil(
        d -> session(d.getCurrentUrl()).filter(id::equals).orElse(null),
        PAGE_SECONDS,
        "the entry reopens /?session=<id>");
    awaitLive(ann);
    assertEquals(base + "?session=" + id, ann.driver().getCurrentUrl(), "no fragment");
    ann.waitUntil(
        d -> "Open chat".equals(stored(ann).getJsonObject(0).getString("title")),
        PAGE_SECONDS,
        "the entry learns the session's title from the chat");
    assertNull(stored(ann).getJsonObject(0).getValue("token"), stored(ann).encode());
  }

  @Test
  @DisplayName(
      "the list keeps one entry per session, newest first, at most 50, and survives a bad value")
  void listIsBounded() {
    Browser ann = browser();
    ann.open(base);
    awaitLanding(ann);
    ann.script("localStorage.setItem(arguments[0], '{not json')", KEY);
    ann.open(base);
    awaitLanding(ann);
    assertTrue(listed(ann).isEmpty(), "an unreadable value is an empty list");
    Object ids =
        ann.script(
            """
            return import('/recent.js').then(recent => {
              for (let i = 0; i < 60; i++) {
                recent.rememberChat({id: 'sess_' + i, title: 'Chat ' + i, token: null, role: null});
              }
              recent.rememberChat({id: 'sess_30', title: '', token: null, role: null});
              return recent.recentChats().map(e => e.id + ' ' + e.title);
            });""");
    @SuppressWarnings("unchecked")
    List<String> kept = (List<String>) ids;
    assertEquals(50, kept.size(), kept.toString());
    assertEquals("sess_30 Chat 30", kept.get(0), "reopened: first, its title kept");
    assertEquals("sess_59 Chat 59", kept.get(1));
    assertEquals(1, kept.stream().filter(e -> e.startsWith("sess_30 ")).count(), "no duplicate");
    assertFalse(kept.contains("sess_0 Chat 0"), "the oldest fell off");
  }

  @Test
  @DisplayName(
      "with auth on, an owner link is listed as owner and reopens with its token in the fragment;"
          + " a weaker link to the same chat does not replace it")
  void ownerLinkWithAuthOn() {
    Vertx vertx = Vertx.vertx(); // a hub of its own: each registers its codecs on its Vert.x
    try {
      ownerLinkWithAuthOn(vertx);
    } finally {
      await(vertx.close());
    }
  }

  private void ownerLinkWithAuthOn(Vertx vertx) {
    String key = "sk-acme-1234567890abcdef";
    TestHub keyed = await(TestHub.start(vertx, Map.of("TOKENBUS_API_KEYS", "acme:" + key)));
    String keyedBase = "http://127.0.0.1:" + keyed.port() + "/";
    var created =
        await(
            keyed
                .web()
                .post("/v1/sessions")
                .putHeader("Authorization", "Bearer " + key)
                .sendJsonObject(new JsonObject().put("title", "Support")));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    JsonObject session = created.bodyAsJsonObject();
    String id = session.getString("id");

    Browser ann = browser();
    ann.open(session.getString("owner_url"));
    join(ann, "Ann");
    // The owner looks at their read-only link (from elsewhere: a link that differs only in its
    // fragment would not load the page again).
    ann.open(keyedBase);
    awaitListed(ann, id);
    ann.open(session.getString("view_url"));
    ann.waitUntil(d -> d.findElement(By.id("read-only")).isDisplayed(), PAGE_SECONDS, "#read-only");

    ann.open(keyedBase);
    Listed listed = awaitListed(ann, id);
    assertEquals("Support", listed.title());
    assertTrue(listed.meta().contains("owner"), listed.toString());
    JsonObject stored = stored(ann).getJsonObject(0);
    assertEquals(session.getString("owner_token"), stored.getString("token"));
    assertEquals("owner", stored.getString("role"));
    String href =
        ann.driver()
            .findElement(By.cssSelector("#recent-list .recent-open"))
            .getDomProperty("href");
    assertFalse(href.contains(stored.getString("token")), "the link's address holds no token");

    ann.driver().findElement(By.cssSelector("#recent-list .recent-open")).click();
    ann.waitUntil(
        d -> session(d.getCurrentUrl()).filter(id::equals).orElse(null),
        PAGE_SECONDS,
        "the entry reopens /?session=<id>");
    ann.waitUntil(
        d -> d.findElement(By.id("share-view")).isDisplayed(),
        PAGE_SECONDS,
        "reopened as the owner: #share-view shows");
    assertEquals(
        "token=" + session.getString("owner_token"),
        URI.create(ann.driver().getCurrentUrl()).getRawFragment());
    awaitLive(ann);
  }

  // ---- steps ----

  private Browser browser() {
    Browser browser = Browser.start();
    browsers.add(browser);
    return browser;
  }

  private static void awaitLanding(Browser browser) {
    browser.waitUntil(
        d -> d.findElement(By.id("create-form")).isDisplayed(),
        PAGE_SECONDS,
        "the landing page shows #create-form");
  }

  private static Listed awaitListed(Browser browser, String id) {
    awaitLanding(browser);
    return browser.waitUntil(
        d -> listed(browser).stream().filter(l -> l.id().equals(id)).findFirst().orElse(null),
        PAGE_SECONDS,
        "#recent-list lists " + id);
  }

  private static void join(Browser browser, String name) {
    browser.waitUntil(
        d -> d.findElement(By.id("name-form")).isDisplayed(),
        PAGE_SECONDS,
        "a new visitor sees #name-form");
    browser.driver().findElement(By.id("name")).sendKeys(name);
    browser.driver().findElement(By.id("join")).click();
    awaitLive(browser);
  }

  private static void awaitLive(Browser browser) {
    browser.waitUntil(
        d -> text(d, "#connection").equals("live"), PAGE_SECONDS, "#connection says live");
  }

  private static void send(Browser browser, String message) {
    WebElement input = browser.driver().findElement(By.id("input"));
    input.sendKeys(message);
    browser.driver().findElement(By.id("send")).click();
  }

  /** Waits for the page's answer to complete; returns its text. */
  private static String completedAnswer(Browser browser) {
    return browser.waitUntil(
        d ->
            d
                .findElements(
                    By.cssSelector(
                        "#messages .message[data-role=assistant][data-status=completed] .content"))
                .stream()
                .map(WebElement::getText)
                .findFirst()
                .orElse(null),
        ANSWER_SECONDS,
        "the answer completes");
  }

  // ---- reading the page ----

  @SuppressWarnings("unchecked")
  private static List<String> shownTexts(Browser browser) {
    return (List<String>)
        browser.script(
            "return Array.from(document.querySelectorAll('#messages .message .content'))"
                + ".map(c => c.innerText)");
  }

  @SuppressWarnings("unchecked")
  private static List<Listed> listed(Browser browser) {
    List<Map<String, Object>> rows = (List<Map<String, Object>>) browser.script(LISTED);
    return rows.stream()
        .map(r -> new Listed((String) r.get("id"), (String) r.get("title"), (String) r.get("meta")))
        .toList();
  }

  private static JsonArray stored(Browser browser) {
    Object value = browser.script("return localStorage.getItem(arguments[0])", KEY);
    return value == null ? new JsonArray() : new JsonArray((String) value);
  }

  private static String words(String text) {
    return text.replaceAll("\\s+", " ").trim();
  }

  private static String text(WebDriver driver, String css) {
    return driver.findElement(By.cssSelector(css)).getText().trim();
  }

  private static Optional<String> session(String url) {
    String query = URI.create(url).getRawQuery();
    if (query == null) {
      return Optional.empty();
    }
    for (String pair : query.split("&")) {
      if (pair.startsWith("session=") && pair.length() > "session=".length()) {
        return Optional.of(pair.substring("session=".length()));
      }
    }
    return Optional.empty();
  }
}
