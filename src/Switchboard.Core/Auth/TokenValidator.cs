using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Channels;
using Switchboard.Engine;
using Switchboard.Protocol;

namespace Switchboard.Auth;

/// <summary>
/// The one place tokens are checked. Signatures and algorithms are verified by
/// Microsoft.IdentityModel; this class only picks the keys a token may be checked with:
/// a token whose <c>iss</c> names an external OpenID Connect issuer or a registered
/// <see cref="ITokenKeySource"/> is checked with that source's keys alone (and must carry its
/// issuer); any other token with the configured HMAC secret, PEM keys and JWKS URLs. Only keys of
/// the family of the token's <c>alg</c> are offered (an HS256 token never meets an RSA key, so
/// algorithm confusion has nothing to work with; <c>alg: none</c> belongs to no family).
/// Lifetimes are checked here against <see cref="TimeProvider"/> so tests can use fake time, and
/// revoked tokens are refused through <see cref="ITokenRevocationStore"/>.
/// </summary>
internal sealed class TokenValidator : IDisposable
{
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly TokenOptions _options;
    private readonly TimeProvider _time;
    private readonly ITokenRevocationStore? _revocations;
    // Key documents are small; a key server cannot make a node buffer more than this.
    private readonly HttpClient _http = new() { MaxResponseContentBufferSize = 1024 * 1024 };
    // Tokens without a matching issuer source are checked with these (HMAC, PEM, JWKS URLs).
    private readonly KeySource[] _pool;
    // Sources tokens pick by their iss: external OIDC issuers, then registered key sources.
    private readonly OidcKeySource[] _oidc;
    private readonly KeySource[] _provided;

    public TokenValidator(
        IOptions<SwitchboardOptions> options,
        TimeProvider time,
        IEnumerable<ITokenKeySource>? keySources = null,
        ITokenRevocationStore? revocations = null,
        ILoggerFactory? loggers = null)
    {
        _options = options.Value.Token;
        _time = time;
        _revocations = revocations;
        var logger = (loggers ?? NullLoggerFactory.Instance).CreateLogger<TokenValidator>();
        var issuer = string.IsNullOrEmpty(_options.Issuer) ? null : _options.Issuer;
        var audience = string.IsNullOrEmpty(_options.Audience) ? null : _options.Audience;
        var staticKeys = new List<SecurityKey>();
        if (!string.IsNullOrEmpty(_options.HmacSecretKey))
        {
            staticKeys.Add(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(_options.HmacSecretKey)));
        }
        staticKeys.AddRange(_options.PublicKeys.Select(TokenKeyConfiguration.LoadPublicKey));
        var pool = new List<KeySource>();
        if (staticKeys.Count > 0)
        {
            pool.Add(new StaticKeySource(staticKeys, issuer) { Audience = audience });
        }
        JwksKeySource Jwks(Uri url, string? iss, string? aud)
            => new(url, iss, _http, time, _options.KeysRefreshInterval, _options.KeysRefetchMinInterval, logger) { Audience = aud };
        pool.AddRange(_options.JwksUrls.Select(url => Jwks(new Uri(url), issuer, audience)));
        _pool = [.. pool];
        _oidc =
        [
            .. _options.Issuers.Select(o =>
            {
                var aud = string.IsNullOrEmpty(o.Audience) ? audience : o.Audience;
                return new OidcKeySource(o.Authority!, _http, time, _options.KeysRefreshInterval, _options.KeysRefetchMinInterval, logger, (url, iss) => Jwks(url, iss, aud)) { Audience = aud };
            }),
        ];
        _provided = [.. (keySources ?? []).Select(s => new ProvidedKeySource(s) { Audience = audience })];
    }

    /// <summary>Where revocations are kept (null only in tests that built a validator without one).</summary>
    public ITokenRevocationStore? Revocations => _revocations;

    public void Dispose() => _http.Dispose();

    public async ValueTask<ConnectToken> ValidateConnectTokenAsync(string token, CancellationToken cancellationToken)
    {
        var payload = await ValidateSignatureAsync(token, cancellationToken).ConfigureAwait(false);
        var claims = Deserialize(payload, TokenJsonContext.Default.ConnectTokenClaims);
        CheckLifetime(claims.Exp, claims.Nbf);
        await CheckRevokedAsync(claims.Jti, claims.Sub, claims.Iat, cancellationToken).ConfigureAwait(false);
        var info = claims.Info.IsEmpty && claims.B64Info is { } b64 ? DecodeB64Info(b64) : claims.Info;
        return new ConnectToken(
            claims.Sub ?? "",
            ConnectionExpiry(claims.Exp, claims.ExpireAt),
            info,
            claims.Channels ?? [],
            claims.Subs ?? [],
            claims.Jti);
    }

    public async ValueTask<SubscribeToken> ValidateSubscribeTokenAsync(string token, CancellationToken cancellationToken)
    {
        var payload = await ValidateSignatureAsync(token, cancellationToken).ConfigureAwait(false);
        var claims = Deserialize(payload, TokenJsonContext.Default.SubscribeTokenClaims);
        CheckLifetime(claims.Exp, claims.Nbf);
        if (string.IsNullOrEmpty(claims.Channel))
        {
            throw new TokenException(TokenError.Invalid, "subscription token has no channel claim");
        }
        await CheckRevokedAsync(claims.Jti, claims.Sub, claims.Iat, cancellationToken).ConfigureAwait(false);
        var info = claims.Info.IsEmpty && claims.B64Info is { } b64 ? DecodeB64Info(b64) : claims.Info;
        return new SubscribeToken(claims.Sub ?? "", claims.Channel, ConnectionExpiry(claims.Exp, claims.ExpireAt), info, claims.Override);
    }

    private async ValueTask CheckRevokedAsync(string? jti, string? user, long? iat, CancellationToken cancellationToken)
    {
        if (_revocations is null || (string.IsNullOrEmpty(jti) && string.IsNullOrEmpty(user)))
        {
            return;
        }
        var issuedAt = iat is { } i ? DateTimeOffset.FromUnixTimeSeconds(i) : (DateTimeOffset?)null;
        if (await _revocations.IsRevokedAsync(jti, user, issuedAt, cancellationToken).ConfigureAwait(false))
        {
            throw new TokenException(TokenError.Invalid, "token revoked");
        }
    }

    private async ValueTask<byte[]> ValidateSignatureAsync(string token, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (token.Length > 16 * 1024)
        {
            throw new TokenException(TokenError.Invalid, "token too large");
        }
        JsonWebToken unverified;
        try
        {
            unverified = _handler.ReadJsonWebToken(token);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException)
        {
            throw new TokenException(TokenError.Invalid, "token is not a JWT");
        }
        if (unverified.IsEncrypted)
        {
            throw new TokenException(TokenError.Invalid, "encrypted tokens are not accepted");
        }
        var family = KeyFamilies.OfAlgorithm(unverified.Alg);
        if (family == KeyFamily.None)
        {
            throw new TokenException(TokenError.Invalid, $"algorithm '{unverified.Alg}' not accepted");
        }
        var iss = unverified.TryGetPayloadValue<string>("iss", out var i) ? i : null;
        var source = await SourceForIssuerAsync(iss, cancellationToken).ConfigureAwait(false);
        KeySource[] sources = source is null ? _pool : [source];
        if (sources.Length == 0)
        {
            throw new TokenException(TokenError.Invalid, "no token keys are configured (Switchboard:Token)");
        }
        var jwt = await ValidateWithAsync(unverified, family, sources, cancellationToken).ConfigureAwait(false);
        try
        {
            return Base64Url.DecodeFromChars(jwt.EncodedPayload);
        }
        catch (FormatException)
        {
            throw new TokenException(TokenError.Invalid, "token payload is not base64url");
        }
    }

    // The source a token's iss names: an OIDC issuer (discovered on first need) or a registered key source.
    private async ValueTask<KeySource?> SourceForIssuerAsync(string? iss, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(iss))
        {
            return null;
        }
        foreach (var oidc in _oidc)
        {
            if (string.Equals(oidc.Issuer, iss, StringComparison.Ordinal)
                || (!oidc.Discovered && string.Equals(oidc.Issuer, iss.TrimEnd('/'), StringComparison.Ordinal)))
            {
                return oidc;
            }
        }
        foreach (var provided in _provided)
        {
            if (string.Equals(provided.Issuer, iss, StringComparison.Ordinal))
            {
                return provided;
            }
        }
        // An issuer whose discovered name differs from its authority is only known once discovered.
        foreach (var oidc in _oidc)
        {
            if (!oidc.Discovered && await oidc.DiscoverAsync(cancellationToken).ConfigureAwait(false)
                && string.Equals(oidc.Issuer, iss, StringComparison.Ordinal))
            {
                return oidc;
            }
        }
        return null;
    }

    private async ValueTask<JsonWebToken> ValidateWithAsync(JsonWebToken unverified, KeyFamily family, KeySource[] sources, CancellationToken cancellationToken)
    {
        var keys = await KeysAsync(sources, family, cancellationToken).ConfigureAwait(false);
        var kid = unverified.Kid;
        if (family != KeyFamily.Hmac && !string.IsNullOrEmpty(kid) && !keys.Any(k => k.Key.KeyId == kid))
        {
            // An unknown kid: keys may have rotated. Refetch (rate limited) and look again.
            // (Never for HMAC: no remote source publishes symmetric keys.)
            var refetched = false;
            foreach (var source in sources)
            {
                refetched |= await source.RefetchAsync(cancellationToken).ConfigureAwait(false);
            }
            if (refetched)
            {
                keys = await KeysAsync(sources, family, cancellationToken).ConfigureAwait(false);
            }
        }
        string? lastError = null;
        foreach (var group in keys.GroupBy(k => k.Source))
        {
            var source = group.Key;
            var parameters = new TokenValidationParameters
            {
                IssuerSigningKeys = [.. group.Select(k => k.Key)],
                ValidAlgorithms = KeyFamilies.Algorithms(family),
                TryAllIssuerSigningKeys = true,
                RequireSignedTokens = true,
                ValidateIssuerSigningKey = false, // no X.509 chains here; the key list is the trust
                ValidateLifetime = false, // checked with TimeProvider
                RequireExpirationTime = false,
                ValidateAudience = source.Audience is not null,
                ValidAudience = source.Audience,
                ValidateIssuer = source.Issuer is not null,
                ValidIssuer = source.Issuer,
            };
            // The token parsed once above is validated as is (no second parse of the compact form).
            var result = await _handler.ValidateTokenAsync(unverified, parameters).ConfigureAwait(false);
            if (result.IsValid && result.SecurityToken is JsonWebToken jwt)
            {
                return jwt;
            }
            lastError = result.Exception?.GetType().Name;
        }
        throw new TokenException(TokenError.Invalid, lastError ?? $"no {family} key to check this token with");
    }

    private static async ValueTask<List<(KeySource Source, SecurityKey Key)>> KeysAsync(KeySource[] sources, KeyFamily family, CancellationToken cancellationToken)
    {
        var keys = new List<(KeySource, SecurityKey)>();
        ProtocolException? unavailable = null;
        foreach (var source in sources)
        {
            try
            {
                foreach (var key in await source.GetKeysAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (KeyFamilies.Of(key) == family)
                    {
                        keys.Add((source, key));
                    }
                }
            }
            catch (ProtocolException e)
            {
                unavailable = e;
            }
        }
        // No key at all because a key server could not be read: a temporary error, not a verdict.
        if (keys.Count == 0 && unavailable is not null)
        {
            throw unavailable;
        }
        return keys;
    }

    private static T Deserialize<T>(byte[] payload, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, typeInfo) ?? throw new TokenException(TokenError.Invalid, "token payload is null");
        }
        catch (JsonException e)
        {
            throw new TokenException(TokenError.Invalid, $"token claims are malformed: {e.Path}");
        }
    }

    private void CheckLifetime(long? exp, long? nbf)
    {
        var now = _time.GetUtcNow();
        if (exp is > 0 && DateTimeOffset.FromUnixTimeSeconds(exp.Value) + _options.ClockSkew <= now)
        {
            throw new TokenException(TokenError.Expired, "token expired");
        }
        if (nbf is > 0 && DateTimeOffset.FromUnixTimeSeconds(nbf.Value) - _options.ClockSkew > now)
        {
            throw new TokenException(TokenError.Invalid, "token not valid yet (nbf)");
        }
    }

    // expire_at, when present, replaces exp as the connection's expiry; 0 means never.
    private static DateTimeOffset? ConnectionExpiry(long? exp, long? expireAt)
    {
        if (expireAt is { } at)
        {
            return at > 0 ? DateTimeOffset.FromUnixTimeSeconds(at) : null;
        }
        return exp is > 0 ? DateTimeOffset.FromUnixTimeSeconds(exp.Value) : null;
    }

    private static RawJson DecodeB64Info(string b64)
    {
        try
        {
            return RawJson.Parse(Convert.FromBase64String(b64));
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            throw new TokenException(TokenError.Invalid, "b64info is not base64 JSON");
        }
    }
}
