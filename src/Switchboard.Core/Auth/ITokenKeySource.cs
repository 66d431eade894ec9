using Microsoft.IdentityModel.Tokens;

namespace Switchboard.Auth;

/// <summary>
/// A source of keys that sign connection and subscription tokens, beside the configured ones
/// (HMAC secret, PEM keys, JWKS URLs, external OIDC issuers): the built-in OAuth server registers
/// one for its own access tokens, so a signed-in user connects with the access token it holds.
/// Register implementations as singletons (<c>services.AddSingleton&lt;ITokenKeySource, …&gt;()</c>).
/// </summary>
public interface ITokenKeySource
{
    /// <summary>The issuer (<c>iss</c>) of the tokens these keys sign; such tokens must carry it.</summary>
    string Issuer { get; }

    /// <summary>The keys that currently sign (public parts suffice); called per validation, so cache inside.</summary>
    ValueTask<IReadOnlyCollection<SecurityKey>> GetKeysAsync(CancellationToken cancellationToken);
}
