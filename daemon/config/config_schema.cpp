#include "daemon/config/config_schema.h"

#include "daemon/config/reload_contract.h"

namespace portcullis::config {

namespace {
using K = KeyKind;

// clang-format off
const std::vector<KeySpec> kSchema = {
  {"server", K::kTable, "table", "", "Listening sockets, limits and timeouts."},
  {"server.listen", K::kValue, "array of strings", R"(["127.0.0.1:3128"])", "Addresses to accept clients on: \"IPv4:port\" or \"[IPv6]:port\". These addresses are never a valid destination; with 0.0.0.0 or [::] every local address with that port is not (hard:self)."},
  {"server.listen_transparent", K::kValue, "array of strings", "[]", "Addresses to accept connections redirected by the kernel on (transparent mode, see \"Transparent mode\"): nftables `redirect` (the original destination from SO_ORIGINAL_DST) or `tproxy` (the socket is IP_TRANSPARENT; needs CAP_NET_ADMIN). Only the original destination is ever connected to; like `listen`, never a destination themselves (hard:self)."},
  {"server.transparent_tls_ports", K::kValue, "array of integers", "[443]", "Original destination ports whose redirected connections are TLS: decided by the ClientHello's SNI as a CONNECT to that name would be, then spliced to the original destination. Every other port is read as HTTP."},
  {"server.listen_tls", K::kValue, "array of strings", "[]", "TLS proxy ports (clients use an https:// proxy URL): \"IPv4:port\" or \"[IPv6]:port\". Everything of the plain port works inside TLS (absolute-form, keep-alive, CONNECT tunnels); proxy credentials are accepted here. TLS 1.2 and 1.3 with Mozilla's \"intermediate\" ciphers. Needs tls_certificate and tls_key."},
  {"server.tls_certificate", K::kValue, "string", R"("")", "PEM certificate chain for listen_tls (server certificate first), relative to the config file. Reloaded on SIGHUP: new handshakes use the new pair; a pair that does not load fails the reload and the old one stays."},
  {"server.tls_key", K::kValue, "string", R"("")", "PEM private key matching tls_certificate (readable by the user the daemon drops to, for reloads)."},
  {"server.workers", K::kValue, "integer or \"auto\"", R"("auto")", "Worker threads, one event loop each; \"auto\" = one per CPU core."},
  {"server.max_connections", K::kValue, "integer", "10000", "Client connections open at once, all workers together; more are refused."},
  {"server.max_connections_per_client", K::kValue, "integer", "256", "Client connections open at once from one client address."},
  {"server.header_timeout", K::kValue, "duration", R"("10s")", "Time to receive a whole request head (slowloris defence)."},
  {"server.client_idle_timeout", K::kValue, "duration", R"("60s")", "Keep-alive time between two requests of a client."},
  {"server.body_timeout", K::kValue, "duration", R"("30s")", "Longest pause in a request or response body."},
  {"server.connect_timeout", K::kValue, "duration", R"("10s")", "Time to open a TCP connection upstream."},
  {"server.first_byte_timeout", K::kValue, "duration", R"("30s")", "Time from sending a request upstream to its response head."},
  {"server.upstream_idle_timeout", K::kValue, "duration", R"("30s")", "How long an idle pooled upstream connection is kept."},
  {"server.tunnel_idle_timeout", K::kValue, "duration", R"("5m")", "A CONNECT tunnel with no bytes either way for this long is closed."},
  {"server.shutdown_grace", K::kValue, "duration", R"("10s")", "On stop, time given to requests in flight before connections are cut."},
  {"server.proxy_protocol_from", K::kValue, "array of strings", "[]", "Load balancers (CIDRs) whose connections start with a PROXY protocol v1 or v2 header (HAProxy send-proxy-v2): the client address it carries is the one rules, limits, the abuse guard and logs use (the balancer's is logged as \"balancer\"). From these addresses the header is required; from anyone else it is never read (a request line starting \"PROXY\" gets 400)."},
  {"server.drain_delay", K::kValue, "duration", R"("0s")", "On SIGTERM, keep accepting this long while the admin listener's /healthz answers 503 \"draining\", so a load balancer takes the node out first (set it above the balancer's check interval x fall count); a second SIGTERM stops at once."},
  {"server.buffer_size", K::kValue, "size", R"("256 KiB")", "Per-connection, per-direction buffer watermark (backpressure)."},
  {"server.max_request_line", K::kValue, "size", R"("8 KiB")", "Longest request line accepted (414 beyond)."},
  {"server.max_header_size", K::kValue, "size", R"("64 KiB")", "Largest request head accepted (431 beyond)."},
  {"server.via_pseudonym", K::kValue, "string", R"("portcullis")", "Name put in the Via header; also used to detect request loops."},
  {"server.user", K::kValue, "string", R"("")", "When started as root, drop privileges to this user after binding."},
  {"server.error_pages", K::kValue, "string", R"("")", "Directory of error page templates (like Squid's error_directory): error.html for every error, NNN.html for status NNN; relative to the config file; \"\" = the built-in page. Placeholders: {{status}} {{reason}} {{title}} {{message}} {{rule}} {{contact}} {{organisation}} {{proxy}}, each HTML-escaped; {{#rule}}...{{/rule}} shows only when rule is set."},
  {"server.sni_check", K::kValue, "boolean", "true", "Read the TLS ClientHello at the start of every CONNECT tunnel and check its server name (SNI) before relaying a byte upstream; the [[sni]] tables set the choices per source set. false = relay at once, unread."},
  {"server.sni_timeout", K::kValue, "duration", R"("10s")", "How long a tunnel waits for the client's first bytes (the ClientHello; at most tunnel_idle_timeout). Past it: closed, except on ports other than 443 when the client sent nothing (server-speaks-first protocols), which are relayed."},
  {"server.sni_max_size", K::kValue, "size", R"("16 KiB")", "Largest ClientHello read (512 B to 64 KiB; 0 = the default); a larger one closes the tunnel."},
  {"server.error_contact", K::kValue, "string", R"("")", "Who to ask when a page is blocked (e.g. \"Ask the IT office, room 12\"); shown on error pages ({{contact}})."},
  {"server.organisation", K::kValue, "string", R"("")", "The school's or company's name, shown on error pages ({{organisation}})."},
  {"server.pid_file", K::kValue, "string", R"("")", "File to write the daemon's PID to after binding (locked while it runs, removed on clean exit); \"\" = none. Used by `portcullis reload` and `reopen-logs`."},

  {"dns", K::kTable, "table", "", "Name resolution."},
  {"dns.nameservers", K::kValue, "array of strings", "[]", "Name servers (\"IP\" or \"IP:port\"); empty = those of /etc/resolv.conf."},
  {"dns.timeout", K::kValue, "duration", R"("5s")", "Time to wait for a DNS answer."},
  {"dns.min_ttl", K::kValue, "duration", R"("1s")", "Answers are cached at least this long."},
  {"dns.max_ttl", K::kValue, "duration", R"("5m")", "Answers are cached at most this long."},
  {"dns.negative_ttl", K::kValue, "duration", R"("5s")", "How long a failed lookup is remembered."},
  {"dns.hosts_file", K::kValue, "boolean", "true", "Consult /etc/hosts before DNS."},

  {"cache", K::kTable, "table", "", "The HTTP cache (RFC 9111)."},
  {"cache.enabled", K::kValue, "boolean", "false", "Turn the cache on."},
  {"cache.dir", K::kValue, "string", R"("")", "Directory for cached bodies and the index; required when enabled."},
  {"cache.max_size", K::kValue, "size", R"("1 GiB")", "Total size of cached objects; the eviction policy keeps it under this."},
  {"cache.max_object_size", K::kValue, "size", R"("64 MiB")", "Larger responses are relayed but not stored."},
  {"cache.memory_size", K::kValue, "size", R"("256 MiB")", "RAM kept for copies of small cached bodies (like Squid's cache_mem); \"0\" = every hit reads the disk."},
  {"cache.memory_max_object_size", K::kValue, "size", R"("1 MiB")", "Bodies up to this size are also kept in RAM; larger hits are sent from the disk with sendfile."},
  {"cache.min_free_disk", K::kValue, "size", R"("1 GiB")", "Stop storing when the file system has less free space than this."},
  {"cache.eviction", K::kValue, "\"s3fifo\" or \"lru\"", R"("s3fifo")", "Which objects go first when the cache is full."},
  {"cache.fsync", K::kValue, "\"never\" or \"always\"", R"("never")", "Whether each stored object is fsync'ed (slower, survives power loss)."},
  {"cache.collapsed_forwarding", K::kValue, "boolean", "true", "Concurrent misses for the same object share one upstream fetch."},
  {"cache.serve_stale_on_error", K::kValue, "boolean", "true", "Serve a stale copy when the origin fails (RFC 9111 §4.2.4)."},
  {"cache.max_stale_on_error", K::kValue, "duration", R"("1d")", "How stale a copy may be when served on error."},
  {"cache.range_fetch_whole_max", K::kValue, "size", R"("16 MiB")", "A Range request that misses fetches the whole object when it is at most this large."},
  {"cache.fill_after_abort", K::kValue, "size", R"("8 MiB")", "When the client that leads a cache fill goes away mid-body, the proxy finishes the fetch and the cache write without it if at most this much is left (by Content-Length; without one, it stops after this much more; of a sliced object, only the slice being fetched is finished); \"0\" = abort at once. At most 16 such fills per worker."},
  {"cache.slice_size", K::kValue, "size", R"("1 MiB")", "Large and ranged objects are stored as slices of this size, each an ordinary cache entry (evicted on its own); a miss fetches only the slices it needs with Range + If-Range. \"0\" = off (ranges then behave as range_fetch_whole_max says). Between 64 KiB and 64 MiB. See \"Update day\" below."},
  {"cache.slice_above", K::kValue, "size", R"("16 MiB")", "A response whose length is known and above this is stored as slices while it streams; a Range miss beyond range_fetch_whole_max asks the origin for the aligned slices. Sliced objects are still bounded by max_object_size."},
  {"cache.refresh", K::kArrayOfTables, "array of tables", "", "[[cache.refresh]] rules (like Squid's refresh_pattern): freshness for responses the origin gave no explicit freshness (no max-age, s-maxage or Expires), by URL. The first matching rule applies; explicit Cache-Control and Expires always win, and no-store, private and no-cache are never overridden. See \"Update day\" below."},
  {"cache.refresh.hosts", K::kValue, "array of strings", "[]", "Host patterns, as in destination sets: \"deb.debian.org\", \"*.archive.ubuntu.com\" (the name and its subdomains), \"*\"; empty = any host."},
  {"cache.refresh.path", K::kValue, "string", R"("*")", "Glob on the URL path (the query is ignored): '*' matches any run of characters, '/' included; every other character itself. E.g. \"/debian/pool/*\", \"*.deb\"."},
  {"cache.refresh.min", K::kValue, "duration", R"("0s")", "Fresh for at least this long; also the freshness of a response without Last-Modified (such as one with no validators at all)."},
  {"cache.refresh.max", K::kValue, "duration", "", "Fresh for at most this long (required); then the next request revalidates or refetches."},
  {"cache.refresh.percent", K::kValue, "number", "0", "Freshness as a percentage of the time between Last-Modified and Date when the response was fetched, kept within min and max."},
  {"cache.alias", K::kArrayOfTables, "array of tables", "", "[[cache.alias]] cache identities: the same path on any of these hosts is one stored object (CDN aliases). Access control still checks the real host and its addresses for every request. Off unless configured; examples in etc/cache-aliases/."},
  {"cache.alias.hosts", K::kValue, "array of strings", "", "Host patterns (required): \"name\" exactly, \"*.name\" or \".name\" for the name and its subdomains; not \"*\". A host matching patterns of two aliases gets the more specific one."},
  {"cache.alias.identity", K::kValue, "string", "", "The name the cache key uses instead of the host (required): lower-case letters, digits and '-', e.g. \"steam\". `portcullis explain` shows the key."},

  {"log", K::kTable, "table", "", "Logs."},
  {"log.access", K::kValue, "string", R"("")", "Access log path; \"-\" = standard output; \"\" = off. Reopened on SIGUSR1."},
  {"log.access_format", K::kValue, "\"json\", \"squid\" or \"combined\"", R"("json")", "Access log line format."},
  {"log.events", K::kValue, "string", R"("-")", "Event log path; \"-\" = standard error."},

  {"admin", K::kTable, "table", "", "The admin endpoint (status, metrics)."},
  {"admin.listen", K::kValue, "string", R"("127.0.0.1:3129")", "\"IP:port\", \"unix:/path\" or \"\" (off). Never a destination through the proxy (hard:self, every local address for 0.0.0.0 or [::])."},
  {"admin.allow", K::kValue, "array of strings", R"(["127.0.0.1/32", "::1/128"])", "Client networks (CIDRs) allowed to use the admin endpoint."},

  {"abuse", K::kTable, "table", "", "Scanner defence: clients refused again and again are blocked at accept."},
  {"abuse.refusals_to_block", K::kValue, "integer", "20", "Refused requests within refusal_window that start a block; 0 = never block."},
  {"abuse.refusal_window", K::kValue, "duration", R"("1m")", "The window refusals are counted in."},
  {"abuse.block_time", K::kValue, "duration", R"("10m")", "How long a blocked client's connections are closed at accept."},
  {"abuse.block_allowed_sources", K::kValue, "boolean", "false", "Also block clients inside an allowed source set (off: a pupil hitting the blocklist keeps the web)."},

  {"pac", K::kTable, "table", "", "The proxy auto-config (PAC) file browsers fetch at /proxy.pac and /wpad.dat, generated from these rules; `portcullis pac` prints it."},
  {"pac.listen", K::kValue, "array of strings", "[]", "Addresses to serve the PAC file on (\"IP:port\"; port 80 for WPAD by DNS); empty = not served. Never a destination through the proxy (hard:self)."},
  {"pac.clients", K::kValue, "array of strings", "", "Source sets whose clients may fetch it (required when listen is set); anyone else gets 403."},
  {"pac.proxies", K::kValue, "array of strings", "the server.listen addresses", "Proxies in the order browsers try them: \"http://host:port\" (or \"host:port\") becomes PROXY, \"https://host:port\" becomes HTTPS. Needed when server.listen is a wildcard address; list the farm's front for a farm."},
  {"pac.direct", K::kValue, "array of strings", "[]", "Destination sets (host names and CIDRs) browsers reach without the proxy, e.g. the intranet. Their ports, methods and schemes are not used."},
  {"pac.fallback_direct", K::kValue, "boolean", "false", "End the proxy list with DIRECT, so browsers go direct when no proxy answers (and the rules no longer apply). Off: no proxy, no web."},

  {"sources", K::kNamedTables, "table of named sets", "", "Named client networks. Each is an array of CIDRs or a table."},
  {"sources.<name>", K::kTable, "array of strings or table", "", "An array of CIDRs/addresses, or { cidrs = [...], file = \"path\" }."},
  {"sources.<name>.cidrs", K::kValue, "array of strings", "[]", "IPv4/IPv6 CIDRs or single addresses."},
  {"sources.<name>.file", K::kValue, "string", "", "A file with one CIDR or address per line ('#' comments); relative to the config file."},
  {"sources.<name>.plaintext_auth", K::kValue, "boolean", "false", "Accept proxy credentials from these clients on the plain port too. Risky: Basic credentials are only base64, readable by anyone on the network path (`validate` warns); prefer listen_tls."},

  {"destinations", K::kNamedTables, "table of named sets", "", "Named destination sets. A request matches when every condition the set has holds: (host in hosts or hosts_file, or address in cidrs) and port and method and scheme. A special address range is opened only by a set that names it in cidrs and matches the whole request itself, never by another set of the same rule."},
  {"destinations.<name>", K::kTable, "table", "", "One destination set."},
  {"destinations.<name>.hosts", K::kValue, "array of strings", "", "Host names: \"example.org\" (exactly), \"*.example.org\" or \".example.org\" (example.org and every subdomain), \"*\" (any host; does not open special address ranges)."},
  {"destinations.<name>.hosts_file", K::kValue, "string", "", "A file with one name per line ('#' comments; \"0.0.0.0 name\" hosts-file lines accepted). Each name, bare or \"*.name\", matches itself and its subdomains."},
  {"destinations.<name>.cidrs", K::kValue, "array of strings", "", "Destination addresses, checked on every address after DNS. A CIDR inside a special range (e.g. \"10.1.0.0/16\") opens it; \"0.0.0.0/0\" and \"::/0\" never do."},
  {"destinations.<name>.ports", K::kValue, "array of integers or \"A-B\" strings", "", "Ports and ranges, e.g. [80, 443, \"8000-8080\"]. Empty = any port, but CONNECT goes only to named ports (443 when none)."},
  {"destinations.<name>.methods", K::kValue, "array of strings", "", "Request methods, e.g. [\"GET\", \"HEAD\"] (case-sensitive)."},
  {"destinations.<name>.schemes", K::kValue, "array of strings", "", "\"http\", \"https\" (absolute-form) and \"connect\" (CONNECT tunnels)."},

  {"limit", K::kArrayOfTables, "array of tables", "", "Per-client limits (delay pools) for the clients of a source set; the first matching [[limit]] applies."},
  {"limit.name", K::kValue, "string", R"("limit#N")", "Name shown in logs and 429 pages."},
  {"limit.from", K::kValue, "string", "", "Source set whose clients this applies to (required)."},
  {"limit.requests_per_second", K::kValue, "number", "0", "Requests per second per client address (token bucket); 0 = unlimited. Excess gets 429."},
  {"limit.burst", K::kValue, "number", "2 x rate", "Requests a client may send at once before the rate applies."},
  {"limit.bandwidth", K::kValue, "size", "0", "Bytes per second to one client connection; 0 = unlimited."},

  {"sni", K::kArrayOfTables, "array of tables", "", "What the CONNECT SNI check does, per source set, with what it cannot judge by name; the first [[sni]] whose source set holds the client applies, none = the defaults. See \"The TLS name on CONNECT\"."},
  {"sni.from", K::kValue, "string", "", "Source set whose clients this applies to (required)."},
  {"sni.check", K::kValue, "boolean", "true", "false: these clients' tunnels are relayed without reading the ClientHello."},
  {"sni.no_sni", K::kValue, "\"allow\" or \"deny\"", R"("deny")", "A ClientHello without a server name: \"allow\" judges the tunnel by its CONNECT target alone."},
  {"sni.not_tls", K::kValue, "\"allow\" or \"deny\"", R"("deny")", "First bytes that are not TLS on a CONNECT to port 443. (On other ports they are relayed.)"},
  {"sni.ech", K::kValue, "\"allow\" or \"deny\"", R"("allow")", "A ClientHello offering Encrypted Client Hello (extension 0xfe0d, real or GREASE): \"allow\" checks its outer SNI like any other; \"deny\" closes it."},

  {"safe_search", K::kArrayOfTables, "array of tables", "", "SafeSearch and YouTube Restricted Mode without decryption, per source set: requests and CONNECTs to a service's host names are connected to its documented forced-safe name's addresses instead, after the same rules and post-DNS checks. The first [[safe_search]] whose source set holds the client applies. See \"SafeSearch without decryption\"."},
  {"safe_search.from", K::kValue, "string", "", "Source set whose clients this applies to (required)."},
  {"safe_search.google", K::kValue, "\"off\" or \"strict\"", R"("off")", "\"strict\": Google Search names (lists/google.txt) go to forcesafesearch.google.com."},
  {"safe_search.youtube", K::kValue, "\"off\", \"moderate\" or \"strict\"", R"("off")", "YouTube names (lists/youtube.txt) go to restrictmoderate.youtube.com (\"moderate\") or restrict.youtube.com (\"strict\")."},
  {"safe_search.bing", K::kValue, "\"off\" or \"strict\"", R"("off")", "\"strict\": Bing names (lists/bing.txt) go to strict.bing.com."},
  {"safe_search.lists", K::kValue, "string", R"("safe-search")", "Directory of the host lists google.txt, youtube.txt and bing.txt (one name per line; a name matches its subdomains), relative to the config file; shipped in etc/safe-search/. Read again on reload."},

  {"schedules", K::kNamedTables, "table of named schedules", "", "Named weekly time windows for rules' when and unless, in wall-clock time of a time zone (the system's tz database, so summer time is followed): lessons = { days = [\"mon-fri\"], hours = [\"08:30-12:00\", \"13:00-15:30\"], timezone = \"Europe/Paris\" }. See \"Schedules and expiring rules\"."},
  {"schedules.<name>", K::kTable, "table", "", "One schedule."},
  {"schedules.<name>.days", K::kValue, "array of strings", R"(every day)", "Days a window starts on: \"mon\" ... \"sun\" (or full names) and ranges such as \"mon-fri\" (\"fri-mon\" wraps over the weekend)."},
  {"schedules.<name>.hours", K::kValue, "array of strings", R"(the whole day)", "Ranges \"HH:MM-HH:MM\" (24-hour clock; \":SS\" optional; \"24:00\" ends the day), start included, end excluded; ranges may not overlap. An end at or before the start runs past midnight into the next day (\"22:00-06:00\" belongs to the day it starts on)."},
  {"schedules.<name>.timezone", K::kValue, "string", "the system's zone", "A tz database zone, e.g. \"Europe/Paris\", \"America/New_York\", \"UTC\"."},

  {"rule", K::kArrayOfTables, "array of tables", "", "Rules, checked in order; the first that matches decides; none = deny."},
  {"rule.name", K::kValue, "string", R"("rule#N")", "Name shown in logs, error pages and `portcullis explain`."},
  {"rule.mode", K::kValue, "\"enforce\" or \"log\"", R"("enforce")", "\"log\": the rule is evaluated but never decides; when it matches, the access log line says what it would have done (\"would_deny\" or \"would_allow\": its name) and the next rules decide. Try a rule on live traffic before enforcing it; `portcullis explain` shows it too."},
  {"rule.allow", K::kTable, "table", "", "{ from = SOURCE, to = DESTINATION }: both are required."},
  {"rule.allow.from", K::kValue, "string or array of strings", "", "Source set name(s); the client must be in one."},
  {"rule.allow.to", K::kValue, "string or array of strings", "", "Destination set name(s); the request must match one."},
  {"rule.allow.users", K::kValue, "array of strings", "", "Only these logged-in users: \"alice\" or \"group:teachers\" ([groups]). An anonymous request such a rule would allow gets 407 (log in), not 403."},
  {"rule.deny", K::kTable, "table", "", "{ from = ..., to = ... }: either or both; a missing side matches everything."},
  {"rule.deny.from", K::kValue, "string or array of strings", "", "Source set name(s)."},
  {"rule.deny.to", K::kValue, "string or array of strings", "", "Destination set name(s)."},
  {"rule.deny.users", K::kValue, "array of strings", "", "Only these logged-in users: \"alice\" or \"group:pupils\"."},
  {"rule.when", K::kValue, "string", "", "A [schedules] name: the rule matches only while that schedule is open. When it closes, tunnels and streaming responses the rule allowed are closed (closed_by_policy)."},
  {"rule.unless", K::kValue, "string", "", "A [schedules] name: the rule matches only while that schedule is closed."},
  {"rule.until", K::kValue, "string", "", "\"2026-12-05T15:30\": the rule matches nothing from this instant on (a teacher's \"unblock until the end of the lesson\"). Local time of the system's zone, or with \"Z\", an offset (\"+01:00\") or a zone (\"2026-12-05T15:30 Europe/Paris\"). `validate` warns once it has passed; the status page lists rules expiring within 24 hours."},

  {"parent", K::kArrayOfTables, "array of tables", "", "[[parent]] parent proxies (like Squid's cache_peer ... parent): requests for their destination sets are sent through them instead of direct, after every rule (hard rules included) allowed them. Cacheable GET/HEAD requests are spread by rendezvous hashing of the URL weighted by `weight` (losing a parent moves only its share); other requests and CONNECT try the parents in file order. A parent that fails to connect is skipped for [parents] retry_after and the next is tried, then direct. See \"Parent proxies\"."},
  {"parent.name", K::kValue, "string", "", "Name shown in the access log's `parent` field and in /metrics (required, unique)."},
  {"parent.address", K::kValue, "string", "", "\"name:port\", \"IPv4:port\" or \"[IPv6]:port\" of the parent's proxy port (required; its TLS port with tls = true). A name is resolved through [dns] at each connect (cached for its TTL, so a changed record is followed without a reload; never at load or by validate); one that does not resolve, or only to the proxy itself (hard:self) or to no unicast address, counts as the parent being down. Private and loopback addresses are allowed. An IP address that is one of the proxy's own listen addresses is an error."},
  {"parent.username", K::kValue, "string", R"("")", "Sends Proxy-Authorization: Basic to this parent only (needs password_file). The client's own Proxy-Authorization is never forwarded."},
  {"parent.password_file", K::kValue, "string", R"("")", "File holding the password for username (first line), relative to the config file; read at load and on reload, never logged."},
  {"parent.weight", K::kValue, "integer", "1", "Share of the hashed requests, 1 to 1000."},
  {"parent.to", K::kValue, "array of strings", "[]", "Destination sets whose requests go through this parent; empty = every request."},
  {"parent.tls", K::kValue, "boolean", "false", "Connect to the parent over TLS (its TLS proxy port, e.g. a Portcullis listen_tls): requests, CONNECT and tunnelled bytes and our credentials go inside TLS 1.2+. Its certificate and name are always verified; a failed handshake counts as the parent being down."},
  {"parent.tls_ca", K::kValue, "string", R"("")", "PEM file of the CA(s) to verify the parent's certificate with, relative to the config file; \"\" = the system trust store. Needs tls = true."},
  {"parent.tls_name", K::kValue, "string", R"("")", "Name (or IP address) the parent's certificate must carry, also sent as SNI when it is a name; \"\" = the address' host (its name, or its IP). Needs tls = true."},

  {"parents", K::kTable, "table", "", "Settings for every [[parent]]."},
  {"parents.never_direct", K::kValue, "boolean", "false", "When every parent for a request is down, answer 502 instead of going direct (like Squid's never_direct)."},
  {"parents.retry_after", K::kValue, "duration", R"("30s")", "A parent that failed to connect (or its active check failed) is skipped this long, unless a check finds it up sooner."},
  {"parents.check_interval", K::kValue, "duration", R"("10s")", "Every parent is checked with a TCP connect this often (from one worker); \"0s\" = only failed requests mark a parent down."},

  {"auth", K::kTable, "table", "", "Proxy authentication (RFC 9110 §11.7.1, Basic): 407 and Proxy-Authenticate until the client logs in. Credentials are accepted only on listen_tls, or from source sets with plaintext_auth = true; elsewhere they are refused."},
  {"auth.users_file", K::kValue, "string", R"("")", "htpasswd-style users file, \"user:hash\" per line: bcrypt (`htpasswd -B`) or yescrypt (`portcullis passwd`); other hash kinds are errors. Relative to the config file; re-read on SIGHUP. \"\" = none (no authentication unless [auth.ldap] is set)."},
  {"auth.groups_file", K::kValue, "string", R"("")", "Optional groups file, \"group: user1 user2\" per line (Apache AuthGroupFile format), added to [groups]."},
  {"auth.realm", K::kValue, "string", R"("Portcullis")", "The realm of Proxy-Authenticate: Basic realm=\"...\" (browsers show it in the login box)."},
  {"auth.cache_ttl", K::kValue, "duration", R"("5m")", "A verified login is remembered this long (keyed by a salted SHA-256 of the credentials, never the password); \"0s\" = check every request."},
  {"auth.max_failures", K::kValue, "integer", "5", "Failed logins per client address within failure_window before further attempts get 429; each failure also counts toward [abuse]."},
  {"auth.failure_window", K::kValue, "duration", R"("1m")", "The window failed logins are counted in."},
  {"auth.verifier_threads", K::kValue, "integer", "2", "Threads that check passwords (bcrypt/yescrypt are slow by design; never on an event loop)."},
  {"auth.ldap", K::kTable, "table", "", "Check logins against an LDAP or Active Directory server instead of a users file (not both): bind as the user, then read its groups. Runs on the verifier threads, never on an event loop; cache_ttl, max_failures and failure_window apply as for the users file."},
  {"auth.ldap.uri", K::kValue, "string", "", "Required. \"ldaps://dc1.school.example\" or \"ldap://host:389\"; several, space-separated, are tried in turn."},
  {"auth.ldap.start_tls", K::kValue, "boolean", "false", "StartTLS (RFC 4513 §3) on an ldap:// address. Without it or ldaps://, passwords cross the network in clear text (`validate` warns unless the address is loopback)."},
  {"auth.ldap.ca_file", K::kValue, "string", R"("")", "PEM CA certificates that sign the server's certificate (ldaps://, start_tls); \"\" = the system's. The certificate is always verified."},
  {"auth.ldap.user_dn", K::kValue, "string", R"("")", "Bind directly at this DN: \"uid={user},ou=people,dc=school,dc=example\" ({user} is escaped per RFC 4514). Exactly one of user_dn and search_base."},
  {"auth.ldap.search_base", K::kValue, "string", R"("")", "Search here for the user, then bind at the DN found (Active Directory: \"dc=school,dc=example\")."},
  {"auth.ldap.search_filter", K::kValue, "string", R"x("(uid={user})")x", "The filter that finds the user under search_base ({user} is escaped per RFC 4515); AD: \"(sAMAccountName={user})\". No entry or more than one: the login fails."},
  {"auth.ldap.bind_dn", K::kValue, "string", R"("")", "The service account the search binds as; \"\" = search anonymously. `explain --user` reads users' groups with it (with user_dn too: it has no password to bind as the user)."},
  {"auth.ldap.bind_password_file", K::kValue, "string", R"("")", "File whose first line is bind_dn's password (keep it 0600); relative to the config file."},
  {"auth.ldap.group_base", K::kValue, "string", R"("")", "Search here for the user's groups (with the user's own bind); \"\" = no groups from the directory. They add to [groups] for rules' users = [\"group:NAME\"]."},
  {"auth.ldap.group_filter", K::kValue, "string", R"x("(member={dn})")x", "The filter for the user's groups: {dn} is the user's DN, {user} the name (both escaped); posixGroup: \"(memberUid={user})\"."},
  {"auth.ldap.group_attribute", K::kValue, "string", R"("cn")", "The attribute of a group entry that is its name in rules; names rules cannot spell (with spaces) are ignored."},
  {"auth.ldap.timeout", K::kValue, "duration", R"("5s")", "Limit for connecting and for each LDAP operation: a dead or stalled server answers 503 (termination auth_unavailable) after at most a few of these, and never blocks a worker."},

  {"groups", K::kNamedTables, "table of named lists", "", "Groups of users for rules' users = [\"group:NAME\"]: teachers = [\"alice\", \"bob\"]."},
  {"groups.<name>", K::kValue, "array of strings", "", "The user names of this group."},
};
// clang-format on

std::string_view parentOf(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : path.substr(0, dot);
}

std::string_view leafOf(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

std::string sectionTitle(std::string_view path) {
  if (path == "rule" || path == "sni" || path == "safe_search" || path == "parent")
    return "[[" + std::string(path) + "]]";
  return "[" + std::string(path) + "]";
}

std::string roffEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  // A line starting with '.' or '\'' would be read as a request.
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

std::string mdEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}
}  // namespace

const std::vector<KeySpec>& configSchema() { return kSchema; }

const KeySpec* findKeySpec(std::string_view path) {
  for (const KeySpec& k : kSchema) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

std::vector<std::string_view> childKeys(std::string_view parent) {
  std::vector<std::string_view> out;
  for (const KeySpec& k : kSchema) {
    if (parentOf(k.path) == parent) out.push_back(leafOf(k.path));
  }
  return out;
}

std::string configReferenceMarkdown() {
  std::string out =
      "Sizes are quoted strings with a unit, like \"512 KiB\", \"10 GiB\" (B, KiB/MiB/GiB/TiB, "
      "or KB/MB/GB/TB for powers of 1000); a number without a unit is an error, except 0. "
      "Durations are quoted strings like \"250ms\", \"30s\", \"5m\", \"1h\", \"1d\". Unknown "
      "keys are errors. Every key applies to the next request after a reload (SIGHUP) except "
      "those marked *restart only*: they keep their start-up value until a restart, and a "
      "reload that changes one lists it in its event's `restart_required`.\n";
  for (const KeySpec& k : kSchema) {
    if (k.kind != KeyKind::kValue && parentOf(k.path).empty()) {
      out += "\n### " + sectionTitle(k.path) + "\n\n" + std::string(k.description) + "\n\n";
      out += "| key | type | default | description |\n|---|---|---|---|\n";
      continue;
    }
    std::string key(k.path.substr(k.path.find('.') + 1));
    std::string def = k.defaultValue.empty() ? "—" : "`" + std::string(k.defaultValue) + "`";
    out += "| `" + key + "` | " + mdEscape(k.type) + " | " + mdEscape(def) + " | " +
           mdEscape(k.description) + (isRestartOnly(k.path) ? " *Restart only.*" : "") + " |\n";
  }
  return out;
}

std::string configReferenceRoff() {
  std::string out;
  for (const KeySpec& k : kSchema) {
    if (k.kind != KeyKind::kValue && parentOf(k.path).empty()) {
      out += ".SS " + roffEscape(sectionTitle(k.path)) + "\n" + roffEscape(k.description) + "\n";
      continue;
    }
    std::string key(k.path.substr(k.path.find('.') + 1));
    out += ".TP\n.B " + roffEscape(key) + "\n";
    std::string meta = std::string(k.type);
    if (!k.defaultValue.empty()) meta += "; default " + std::string(k.defaultValue);
    if (isRestartOnly(k.path)) meta += "; restart only";
    out += "(" + roffEscape(meta) + ") " + roffEscape(k.description) + "\n";
  }
  return out;
}

}  // namespace portcullis::config
