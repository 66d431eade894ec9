using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Identity.Data;
using Switchboard.Identity.Endpoints;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Switchboard.Identity;

/// <summary>Registers and maps the built-in OAuth 2.0 / OpenID Connect server.</summary>
public static class SwitchboardIdentity
{
    /// <summary>The endpoints' paths.</summary>
    internal const string AuthorizePath = "/connect/authorize";
    internal const string TokenPath = "/connect/token";
    internal const string RevokePath = "/connect/revoke";
    internal const string UserInfoPath = "/connect/userinfo";
    internal const string SignInPath = "/identity/signin";
    internal const string SignUpPath = "/identity/signup";
    internal const string SignOutPath = "/identity/signout";

    private static IdentityServerOptions Options(IConfiguration configuration)
        => configuration.GetSection($"{SwitchboardOptions.Section}:{nameof(SwitchboardOptions.Identity)}").Get<IdentityServerOptions>() ?? new();

    /// <summary>Adds the OAuth server, its user store and its database, unless <c>Switchboard:Identity:Enabled</c> is false.</summary>
    public static IServiceCollection AddSwitchboardIdentity(this IServiceCollection services, IConfiguration configuration)
    {
        var identity = Options(configuration);
        if (!identity.Enabled)
        {
            return services;
        }
        var database = configuration.GetSection($"{SwitchboardOptions.Section}:{nameof(SwitchboardOptions.Database)}").Get<DatabaseOptions>() ?? new();
        // EF Core logs every command and OpenIddict every request at Information: too loud for a server's log.
        // A more specific Logging:LogLevel key (e.g. OpenIddict.Server) still turns them back on.
        services.AddLogging(logging => logging
            .AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning)
            .AddFilter("OpenIddict", LogLevel.Warning));
        // First of the hosted services: the tables and keys exist before anything (Data Protection's key ring) reads them.
        services.AddHostedService<IdentityStartup>();

        if (string.Equals(database.Provider, "sqlite", StringComparison.OrdinalIgnoreCase))
        {
            IdentitySchema.CreateFolder(SqliteConnectionString(database));
        }
        // One context type per provider, each with its own migrations; everything else asks for IdentityDb.
        if (IsPostgres(database))
        {
            services.AddDbContext<IdentityDb, PostgresIdentityDb>(db => UseDatabase(db, database).UseOpenIddict());
        }
        else
        {
            services.AddDbContext<IdentityDb, SqliteIdentityDb>(db => UseDatabase(db, database).UseOpenIddict());
        }
        services.AddDataProtection()
            .SetApplicationName("Switchboard")
            .PersistKeysToDbContext<IdentityDb>();

        services.AddIdentity<IdentityUser, IdentityRole>(o =>
            {
                // Length over composition rules (NIST SP 800-63B).
                o.Password.RequiredLength = 8;
                o.Password.RequireDigit = false;
                o.Password.RequireLowercase = false;
                o.Password.RequireUppercase = false;
                o.Password.RequireNonAlphanumeric = false;
                o.Lockout.AllowedForNewUsers = true;
                o.Lockout.MaxFailedAccessAttempts = identity.MaxFailedSignIns;
                o.Lockout.DefaultLockoutTimeSpan = identity.LockoutDuration;
                o.User.RequireUniqueEmail = false;
            })
            .AddEntityFrameworkStores<IdentityDb>();
        services.ConfigureApplicationCookie(cookie =>
        {
            cookie.LoginPath = SignInPath;
            cookie.LogoutPath = SignOutPath;
            cookie.Cookie.Name = "switchboard.identity";
            cookie.Cookie.SameSite = SameSiteMode.Lax;
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SecurePolicy = identity.RequireHttps ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
        });
        services.AddAntiforgery(o => o.Cookie.Name = "switchboard.antiforgery");

        services.AddOpenIddict()
            .AddCore(core => core.UseEntityFrameworkCore().UseDbContext<IdentityDb>())
            .AddServer(server =>
            {
                server.SetAuthorizationEndpointUris(AuthorizePath.TrimStart('/'))
                    .SetTokenEndpointUris(TokenPath.TrimStart('/'))
                    .SetRevocationEndpointUris(RevokePath.TrimStart('/'))
                    .SetUserInfoEndpointUris(UserInfoPath.TrimStart('/'));
                if (!string.IsNullOrEmpty(identity.Issuer))
                {
                    server.SetIssuer(new Uri(identity.Issuer, UriKind.Absolute));
                }
                // RFC 9700: code + PKCE (S256 only, below), client credentials, refresh; never implicit or password.
                server.AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();
                server.AllowClientCredentialsFlow();
                server.AllowRefreshTokenFlow();
                // Strict rotation: a refresh token is good once (no reuse leeway); reusing one revokes its chain.
                server.SetRefreshTokenReuseLeeway(null);
                server.SetAccessTokenLifetime(identity.AccessTokenLifetime);
                server.SetRefreshTokenLifetime(identity.RefreshTokenLifetime);
                server.RegisterScopes(Scopes.OpenId, Scopes.Profile, Scopes.Email, Scopes.OfflineAccess);
                // Switchboard reads access tokens itself (as connection tokens): signed, not encrypted.
                server.DisableAccessTokenEncryption();
                var aspNetCore = server.UseAspNetCore()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableTokenEndpointPassthrough()
                    .EnableUserInfoEndpointPassthrough();
                if (!identity.RequireHttps)
                {
                    aspNetCore.DisableTransportSecurityRequirement();
                }
            });
        services.AddSingleton<TokenKeys>();
        services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, ConfigureServerKeys>();
        services.AddSingleton<IdentityTokenKeySource>();
        services.AddSingleton<ITokenKeySource>(sp => sp.GetRequiredService<IdentityTokenKeySource>());
        return services;
    }

    /// <summary>Maps the OAuth endpoints, sign-in and sign-up pages and the operator API (when enabled).</summary>
    public static WebApplication MapSwitchboardIdentity(this WebApplication app)
    {
        if (!Options(app.Configuration).Enabled)
        {
            return app;
        }
        // OpenIddict answers its endpoints from the authentication middleware (a request handler scheme).
        app.UseAuthentication();
        app.MapOAuthEndpoints();
        app.MapIdentityPages();
        app.MapIdentityAdminApi();
        return app;
    }

    private static bool IsPostgres(DatabaseOptions database)
        => string.Equals(database.Provider, "postgres", StringComparison.OrdinalIgnoreCase)
            || string.Equals(database.Provider, "postgresql", StringComparison.OrdinalIgnoreCase);

    private static DbContextOptionsBuilder UseDatabase(DbContextOptionsBuilder db, DatabaseOptions database)
    {
        if (IsPostgres(database))
        {
            if (string.IsNullOrEmpty(database.ConnectionString))
            {
                throw new InvalidOperationException("Switchboard:Database:ConnectionString is required with Provider=postgres.");
            }
            return db.UseNpgsql(database.ConnectionString);
        }
        if (string.Equals(database.Provider, "sqlite", StringComparison.OrdinalIgnoreCase))
        {
            return db.UseSqlite(SqliteConnectionString(database));
        }
        throw new InvalidOperationException($"Switchboard:Database:Provider: unknown provider '{database.Provider}' (known: sqlite, postgres).");
    }

    private static string SqliteConnectionString(DatabaseOptions database)
        => string.IsNullOrEmpty(database.ConnectionString)
            ? new SqliteConnectionStringBuilder { DataSource = Path.Combine("data", "switchboard.db") }.ToString()
            : database.ConnectionString;

    /// <summary>Hands the persisted keys to OpenIddict (before its own checks, which need a signing key).</summary>
    private sealed class ConfigureServerKeys(TokenKeys keys) : IConfigureOptions<OpenIddictServerOptions>
    {
        public void Configure(OpenIddictServerOptions options)
        {
            options.SigningCredentials.Add(new SigningCredentials(keys.Signing, SecurityAlgorithms.RsaSha256));
            options.EncryptionCredentials.Add(new EncryptingCredentials(keys.Encryption, SecurityAlgorithms.Aes256KW, SecurityAlgorithms.Aes256CbcHmacSha512));
            // S256 only: "plain" PKCE protects nothing against an intercepted authorization request.
            options.CodeChallengeMethods.Remove(CodeChallengeMethods.Plain);
        }
    }
}
