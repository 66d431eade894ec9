namespace Switchboard.Channels;

/// <summary>
/// Switchboard's configuration, bound from the <c>Switchboard</c> section of appsettings.json,
/// environment variables (<c>Switchboard__Client__PingInterval</c>) and the command line.
/// </summary>
public sealed class SwitchboardOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Switchboard";

    /// <summary>This node's name in <c>info</c> and connect results; the machine name by default.</summary>
    public string NodeName { get; set; } = Environment.MachineName;

    /// <summary>
    /// The engine: <c>memory</c> (one node; streams and presence in process memory) or
    /// <c>redis</c> (a cluster node; see <see cref="Redis"/>).
    /// </summary>
    public string Engine { get; set; } = "memory";

    /// <summary>The Redis engine's settings (used when <see cref="Engine"/> is <c>redis</c>).</summary>
    public RedisOptions Redis { get; set; } = new();

    /// <summary>Client connection settings.</summary>
    public ClientOptions Client { get; set; } = new();

    /// <summary>Token validation settings.</summary>
    public TokenOptions Token { get; set; } = new();

    /// <summary>Server HTTP API settings.</summary>
    public ApiOptions Api { get; set; } = new();

    /// <summary>HTTP rate limits: the server API, and the named policies of sign-in and token endpoints.</summary>
    public RateLimitsOptions RateLimits { get; set; } = new();

    /// <summary>Graceful shutdown settings.</summary>
    public DrainOptions Drain { get; set; } = new();

    /// <summary>The long polling transport (<c>POST /connection/long_poll</c>, see docs/long-polling.md).</summary>
    public LongPollOptions LongPoll { get; set; } = new();

    /// <summary>Options of channels without a namespace.</summary>
    public ChannelOptions Channel { get; set; } = new();

    /// <summary>Namespaces by name: a channel <c>name:rest</c> takes the options of namespace <c>name</c>.</summary>
    public Dictionary<string, ChannelOptions> Namespaces { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The built-in OAuth 2.0 / OpenID Connect server (see docs/identity.md).</summary>
    public IdentityServerOptions Identity { get; set; } = new();

    /// <summary>The app database (users, OAuth clients and tokens, signing keys).</summary>
    public DatabaseOptions Database { get; set; } = new();
}

/// <summary>Client connection settings.</summary>
public sealed class ClientOptions
{
    /// <summary>Let clients connect with no token, as anonymous users (empty user id).</summary>
    public bool AllowAnonymousConnectWithoutToken { get; set; }

    /// <summary>How often the server pings each client.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>How long the server waits for a pong after a ping (3012 when it does not come).</summary>
    public TimeSpan PongTimeout { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>How long a new connection has to send <c>connect</c> (3502 when it does not).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Grace after a connection's token expiry before it is closed with 3005.</summary>
    public TimeSpan ExpiredCloseDelay { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>Grace after a subscription token's expiry before the subscription is ended with 2501.</summary>
    public TimeSpan ExpiredSubCloseDelay { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>How often presence entries are refreshed.</summary>
    public TimeSpan PresenceUpdateInterval { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>How long a presence entry lives without a refresh.</summary>
    public TimeSpan PresenceTtl { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Most publications a recovery may return; more missed means <c>recovered: false</c>.</summary>
    public int RecoveryMaxPublicationLimit { get; set; } = 300;

    /// <summary>Most publications one history call returns.</summary>
    public int HistoryMaxPublicationLimit { get; set; } = 1000;

    /// <summary>Most channels one connection may subscribe to (error 106 past it).</summary>
    public int ChannelLimit { get; set; } = 128;

    /// <summary>Longest channel name accepted.</summary>
    public int MaxChannelLength { get; set; } = 255;

    /// <summary>Bytes that may wait in one connection's outbound queue before it is closed as slow (3008).</summary>
    public int QueueMaxBytes { get; set; } = 1024 * 1024;

    /// <summary>The writer joins queued messages into frames of at most this many bytes.</summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>Largest incoming message (close 1009 past it).</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Serve plain WebSocket upgrades of <c>/connection/websocket</c> at the connection level
    /// (own RFC 6455 framing on Kestrel's pipes) instead of through the HTTP pipeline: less memory
    /// per connection and less CPU per message. Off: every connection goes through ASP.NET Core.
    /// </summary>
    public bool WebSocketFastPath { get; set; } = true;

    /// <summary>
    /// Browser origins (<c>https://app.example.com</c>) allowed to open client connections besides
    /// the server's own origin (an <c>Origin</c> whose host and port equal the request's
    /// <c>Host</c>). <c>*</c> allows every origin: any web page could then connect with a victim's
    /// cookies or stored tokens (cross-site WebSocket hijacking). Requests without an
    /// <c>Origin</c> header (bots, SDKs, servers) are always allowed.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>How long a publish idempotency key is remembered.</summary>
    public TimeSpan IdempotentResultTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A write to a client that has not completed after this long closes it with 3009.</summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest publication payload (client or API publish) in bytes; error 106 past it.</summary>
    public int MaxPublicationBytes { get; set; } = 64 * 1024;

    /// <summary>Connections one user may hold on this node (3504 past it); anonymous clients are not counted; 0 = no limit.</summary>
    public int UserConnectionLimit { get; set; } = 100;

    /// <summary>Connections this node accepts; past it, upgrades are answered 503 and readiness fails; 0 = no limit.</summary>
    public int MaxConnections { get; set; } = 100_000;

    /// <summary>Sustained commands per second per connection (a token bucket); error 111 past it.</summary>
    public double CommandRate { get; set; } = 100;

    /// <summary>Commands a connection may send in a burst above <see cref="CommandRate"/>.</summary>
    public int CommandBurst { get; set; } = 200;

    /// <summary>Commands refused in a row for flooding before the connection is closed with 3013.</summary>
    public int FloodDisconnectAfter { get; set; } = 50;
}

/// <summary>Graceful shutdown: how clients are sent away on SIGTERM.</summary>
public sealed class DrainOptions
{
    /// <summary>Clients are disconnected with 3001 spread over this window, so they do not all reconnect at once.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many batches the clients are split into across the window.</summary>
    public int Batches { get; set; } = 20;
}

/// <summary>The long polling transport's limits (see docs/long-polling.md).</summary>
public sealed class LongPollOptions
{
    /// <summary>The longest a poll may hang waiting for publications; also the default when a poll names none.</summary>
    public TimeSpan MaxTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most channels in one poll (error 106 past it).</summary>
    public int MaxChannels { get; set; } = 64;

    /// <summary>Most publications per channel in one answer; the next poll gets the rest.</summary>
    public int MaxPublications { get; set; } = 1000;

    /// <summary>Largest request body in bytes (413 past it).</summary>
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// About the most publication bytes one answer carries (at least one publication always goes);
    /// the rest come with the next poll, answered at once.
    /// </summary>
    public int MaxAnswerBytes { get; set; } = 1024 * 1024;
}

/// <summary>Token validation settings.</summary>
public sealed class TokenOptions
{
    /// <summary>The HMAC secret for HS256/384/512 tokens; at least 32 bytes. Tokens are refused when unset.</summary>
    public string? HmacSecretKey { get; set; }

    /// <summary>When set, tokens must carry this audience.</summary>
    public string? Audience { get; set; }

    /// <summary>When set, tokens must carry this issuer.</summary>
    public string? Issuer { get; set; }

    /// <summary>Clock skew allowed when checking <c>exp</c> and <c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// RSA or EC public keys for RS*/PS*/ES* tokens, each either the PEM text itself
    /// (<c>-----BEGIN PUBLIC KEY-----…</c>) or the path of a PEM file. Read once at start.
    /// Checked against <see cref="Issuer"/> and <see cref="Audience"/> when those are set.
    /// </summary>
    public List<string> PublicKeys { get; set; } = [];

    /// <summary>
    /// JWKS URLs whose keys sign tokens (https; http only on loopback). Cached, re-read every
    /// <see cref="KeysRefreshInterval"/>, and at once (at most every <see cref="KeysRefetchMinInterval"/>
    /// per URL) when a token names a <c>kid</c> not in the cache. Checked against <see cref="Issuer"/>
    /// and <see cref="Audience"/> when those are set.
    /// </summary>
    public List<string> JwksUrls { get; set; } = [];

    /// <summary>External OpenID Connect issuers, whose tokens are accepted with their discovered keys.</summary>
    public List<TokenIssuerOptions> Issuers { get; set; } = [];

    /// <summary>How long fetched JWKS and discovery documents are used before they are read again.</summary>
    public TimeSpan KeysRefreshInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The least time between two fetches of one key source caused by unknown <c>kid</c>s (a token flood cannot make Switchboard hammer the key server).</summary>
    public TimeSpan KeysRefetchMinInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>An external OpenID Connect issuer whose tokens Switchboard accepts.</summary>
public sealed class TokenIssuerOptions
{
    /// <summary>
    /// The issuer's base URL: <c>&lt;Authority&gt;/.well-known/openid-configuration</c> names its
    /// <c>issuer</c> (which tokens must carry) and <c>jwks_uri</c>. https; http only on loopback.
    /// </summary>
    public string? Authority { get; set; }

    /// <summary>When set, this issuer's tokens must carry this <c>aud</c> (else <see cref="TokenOptions.Audience"/> applies, when set).</summary>
    public string? Audience { get; set; }
}

/// <summary>Server HTTP API settings.</summary>
public sealed class ApiOptions
{
    /// <summary>The API key (<c>X-API-Key</c> or <c>Authorization: apikey</c>). The API refuses every call when unset.</summary>
    public string? Key { get; set; }

    /// <summary>Answer errors with HTTP status codes instead of 200 with an error body.</summary>
    public bool UseHttpStatusCodes { get; set; }
}

/// <summary>The Redis engine's settings.</summary>
public sealed class RedisOptions
{
    /// <summary>
    /// One entry per shard, each a StackExchange.Redis configuration string: <c>127.0.0.1:6379</c>;
    /// <c>sentinel-a:26379,sentinel-b:26379,serviceName=mymaster</c> for Sentinel; several seed
    /// nodes of a Redis Cluster (with <see cref="Cluster"/>). Channels are spread over the shards
    /// by jump consistent hashing.
    /// </summary>
    public List<string> Addresses { get; set; } = [];

    /// <summary>The shard is a Redis Cluster: keys are hash-tagged by channel, pub/sub is sharded (SPUBLISH/SSUBSCRIBE).</summary>
    public bool Cluster { get; set; }

    /// <summary>Prefix of every key and pub/sub channel, so several installations can share a Redis.</summary>
    public string Prefix { get; set; } = "switchboard";

    /// <summary>How often a node announces itself to the others (node registry, cluster-wide counts).</summary>
    public TimeSpan NodeHeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a node stays listed without a heartbeat.</summary>
    public TimeSpan NodeTtl { get; set; } = TimeSpan.FromSeconds(6);
}

/// <summary>
/// HTTP rate limits (fixed windows, per client: remote IP, and OAuth client id where known).
/// A refused request gets <c>429</c> with <c>Retry-After</c>.
/// </summary>
public sealed class RateLimitsOptions
{
    /// <summary>Server API calls with a valid key, per remote IP. Generous: backends publish through it.</summary>
    public RateLimitRule Api { get; set; } = new() { PermitLimit = 20_000, Window = TimeSpan.FromSeconds(1) };

    /// <summary>Server API calls without a valid key, per remote IP: slows down guessing the key.</summary>
    public RateLimitRule ApiUnauthorized { get; set; } = new() { PermitLimit = 30, Window = TimeSpan.FromMinutes(1) };

    /// <summary>Sign-in (and sign-up) attempts, per remote IP and client id.</summary>
    public RateLimitRule SignIn { get; set; } = new() { PermitLimit = 10, Window = TimeSpan.FromMinutes(1) };

    /// <summary>OAuth token endpoint requests, per remote IP and client id.</summary>
    public RateLimitRule Token { get; set; } = new() { PermitLimit = 60, Window = TimeSpan.FromMinutes(1) };

    /// <summary>Long polls, per remote IP (a flood guard: a client on a busy channel polls about once per round trip).</summary>
    public RateLimitRule LongPoll { get; set; } = new() { PermitLimit = 6000, Window = TimeSpan.FromMinutes(1) };
}

/// <summary>One fixed-window rate limit: at most <see cref="PermitLimit"/> requests per <see cref="Window"/>.</summary>
public sealed class RateLimitRule
{
    /// <summary>Requests allowed per window and partition; <c>0</c> = no limit.</summary>
    public int PermitLimit { get; set; }

    /// <summary>The window length.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}
