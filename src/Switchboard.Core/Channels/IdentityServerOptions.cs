namespace Switchboard.Channels;

/// <summary>
/// The built-in OAuth 2.0 / OpenID Connect server (<c>Switchboard:Identity</c>): users, sign-in
/// pages and the authorization code (PKCE), client credentials and refresh token grants. Its access
/// tokens are accepted as connection tokens. Turn it off when an external identity provider is used.
/// </summary>
public sealed class IdentityServerOptions
{
    /// <summary>Whether the server runs; on by default (the embedded setup).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The issuer (<c>iss</c>) of its tokens, e.g. <c>https://rt.example.com/</c>. Unset: the base URL
    /// of each request (fine on one node reached at one address; set it behind a proxy or in a cluster).
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>The audience (<c>aud</c>) of its access tokens.</summary>
    public string Audience { get; set; } = "switchboard";

    /// <summary>Lifetime of access tokens.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Lifetime of refresh tokens (each use issues a new one and retires the old).</summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(14);

    /// <summary>Failed sign-ins in a row that lock an account.</summary>
    public int MaxFailedSignIns { get; set; } = 5;

    /// <summary>How long a locked account stays locked.</summary>
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Whether the endpoints refuse plain HTTP. Off by default: the embedded setup serves HTTP; TLS is usually ended at the proxy.</summary>
    public bool RequireHttps { get; set; }

    /// <summary>Whether anyone may create an account on the sign-up page; off leaves it to the operator API.</summary>
    public bool AllowSignUp { get; set; } = true;

    /// <summary>
    /// Redirect URIs of the demo page's public client <c>switchboard-demo</c>, seeded on first start.
    /// Empty: the demo page on the issuer (<c>{Issuer}</c>), else <c>http://localhost:8000/</c>.
    /// </summary>
    public List<string> DemoRedirectUris { get; set; } = [];

    /// <summary>A PEM file with an RSA private key to sign tokens with; unset: a key generated once and kept in the database.</summary>
    public string? SigningKeyPath { get; set; }
}

/// <summary>The app database (<c>Switchboard:Database</c>).</summary>
public sealed class DatabaseOptions
{
    /// <summary><c>sqlite</c> (default, a file) or <c>postgres</c>.</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>
    /// The connection string. Unset with SQLite: <c>Data Source=data/switchboard.db</c>, the path
    /// relative to the working directory (the folder is created). Required with PostgreSQL.
    /// </summary>
    public string? ConnectionString { get; set; }
}
