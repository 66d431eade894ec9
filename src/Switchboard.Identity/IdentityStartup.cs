using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using Switchboard.Channels;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Switchboard.Identity;

/// <summary>
/// On start: creates the identity tables if missing, loads (or first makes) the token keys, and
/// seeds the demo page's public client <c>switchboard-demo</c> once.
/// </summary>
internal sealed partial class IdentityStartup(IServiceScopeFactory scopes, IOptionsMonitor<OpenIddictServerOptions> server,
    IOptions<SwitchboardOptions> options, IConfiguration configuration, ILogger<IdentityStartup> logger) : IHostedService
{
    public const string DemoClientId = "switchboard-demo";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Builds the server options now: loads the keys and creates the tables, so a bad database fails the start.
        _ = server.CurrentValue;
        var scope = scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
            if (await applications.FindByClientIdAsync(DemoClientId, cancellationToken).ConfigureAwait(false) is not null)
            {
                return;
            }
            var redirectUris = DemoRedirectUris(options.Value.Identity, configuration["urls"]);
            var descriptor = PublicClient(DemoClientId, "Switchboard demo page", redirectUris);
            try
            {
                await applications.CreateAsync(descriptor, cancellationToken).ConfigureAwait(false);
                Log.DemoClientSeeded(logger, DemoClientId, redirectUris);
            }
            catch (Exception e) when (e is Microsoft.EntityFrameworkCore.DbUpdateException or OpenIddictExceptions.ConcurrencyException
                or OpenIddictExceptions.ValidationException)
            {
                // Another node seeded it first: its insert won the race (a unique-key failure) or
                // landed between our lookup and OpenIddict's own uniqueness check ("same client
                // identifier"). Anything else is a real failure and must stop the start.
                if (!await DemoClientExistsAsync(cancellationToken).ConfigureAwait(false))
                {
                    throw;
                }
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task<bool> DemoClientExistsAsync(CancellationToken cancellationToken)
    {
        var scope = scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            // Straight from the table, past any cache of OpenIddict's.
            var db = scope.ServiceProvider.GetRequiredService<Data.IdentityDb>();
            return await db.Set<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreApplication>()
                .AnyAsync(a => a.ClientId == DemoClientId, cancellationToken).ConfigureAwait(false);
        }
    }

    // The demo page is served at the root of the server: its URL on the issuer, else on each listening address.
    internal static List<string> DemoRedirectUris(IdentityServerOptions identity, string? urls)
    {
        if (identity.DemoRedirectUris.Count > 0)
        {
            return identity.DemoRedirectUris;
        }
        if (!string.IsNullOrEmpty(identity.Issuer))
        {
            return [new Uri(identity.Issuer, UriKind.Absolute).AbsoluteUri];
        }
        var uris = new List<string>();
        foreach (var url in (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var local = url.Replace("://+", "://localhost", StringComparison.Ordinal)
                .Replace("://*", "://localhost", StringComparison.Ordinal)
                .Replace("://0.0.0.0", "://localhost", StringComparison.Ordinal)
                .Replace("://[::]", "://localhost", StringComparison.Ordinal);
            if (Uri.TryCreate(local, UriKind.Absolute, out var uri) && uri.Port != 0)
            {
                uris.Add(new Uri(uri, "/").AbsoluteUri);
            }
        }
        return uris.Count > 0 ? uris : ["http://localhost:8000/"];
    }

    /// <summary>A browser app: no secret, authorization code with PKCE and refresh tokens, exact redirect URIs.</summary>
    internal static OpenIddictApplicationDescriptor PublicClient(string clientId, string? displayName, IEnumerable<string> redirectUris)
    {
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = ClientTypes.Public,
            ApplicationType = ApplicationTypes.Web,
            ConsentType = ConsentTypes.Implicit,
            DisplayName = displayName ?? clientId,
            Permissions =
            {
                Permissions.Endpoints.Authorization,
                Permissions.Endpoints.Token,
                Permissions.Endpoints.Revocation,
                Permissions.GrantTypes.AuthorizationCode,
                Permissions.GrantTypes.RefreshToken,
                Permissions.ResponseTypes.Code,
                Permissions.Scopes.Profile,
                Permissions.Scopes.Email,
                Permissions.Prefixes.Scope + Scopes.OfflineAccess,
            },
            Requirements = { Requirements.Features.ProofKeyForCodeExchange },
        };
        foreach (var uri in redirectUris)
        {
            descriptor.RedirectUris.Add(new Uri(uri, UriKind.Absolute));
        }
        return descriptor;
    }

    /// <summary>A bot or service: a secret and the client credentials grant.</summary>
    internal static OpenIddictApplicationDescriptor ConfidentialClient(string clientId, string secret, string? displayName) => new()
    {
        ClientId = clientId,
        ClientSecret = secret,
        ClientType = ClientTypes.Confidential,
        DisplayName = displayName ?? clientId,
        Permissions =
        {
            Permissions.Endpoints.Token,
            Permissions.Endpoints.Revocation,
            Permissions.GrantTypes.ClientCredentials,
        },
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Seeded the OAuth client {ClientId} with redirect URIs {RedirectUris}")]
        public static partial void DemoClientSeeded(ILogger logger, string clientId, List<string> redirectUris);
    }
}
