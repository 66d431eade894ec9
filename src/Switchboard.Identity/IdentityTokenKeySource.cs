using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Switchboard.Auth;
using Switchboard.Channels;

namespace Switchboard.Identity;

/// <summary>
/// Hands the OAuth server's issuer and public signing key to token validation, so its access tokens
/// are accepted as connection tokens.
/// </summary>
internal sealed class IdentityTokenKeySource(TokenKeys keys, IOptions<SwitchboardOptions> options, IServer server) : ITokenKeySource
{
    private IReadOnlyCollection<SecurityKey>? _keys;
    private string? _issuer;

    /// <inheritdoc/>
    public string Issuer
    {
        get
        {
            // Asked on every token validation: kept once it is final (configured, or the server listens).
            if (_issuer is { } known)
            {
                return known;
            }
            var issuer = IssuerOf(options.Value.Identity.Issuer, server);
            if (!string.IsNullOrEmpty(options.Value.Identity.Issuer) || server.Features.Get<IServerAddressesFeature>()?.Addresses.Count > 0)
            {
                _issuer = issuer;
            }
            return issuer;
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyCollection<SecurityKey>> GetKeysAsync(CancellationToken cancellationToken)
    {
        if (_keys is null)
        {
            var signing = keys.Signing;
            var publicKey = new RsaSecurityKey(signing.Rsa.ExportParameters(includePrivateParameters: false)) { KeyId = signing.KeyId };
            _keys = [publicKey];
        }
        return ValueTask.FromResult(_keys);
    }

    // Unset, OpenIddict names the request's base URL; the best guess here is the first address listened on.
    internal static string IssuerOf(string? configured, IServer server)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return new Uri(configured, UriKind.Absolute).AbsoluteUri;
        }
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://localhost:8000";
        return new Uri(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal), UriKind.Absolute).AbsoluteUri;
    }
}
