using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Switchboard.Channels;
using Switchboard.Protocol;

namespace Switchboard.Auth;

/// <summary>
/// The one place tokens are checked. Signatures and algorithms are verified by
/// Microsoft.IdentityModel (HS256/384/512 with the configured secret; <c>alg: none</c> is never
/// accepted); lifetimes are checked here against <see cref="TimeProvider"/> so tests can use fake time.
/// </summary>
internal sealed class TokenValidator
{
    private static readonly string[] HmacAlgorithms =
        [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.HmacSha384, SecurityAlgorithms.HmacSha512];

    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly TokenValidationParameters? _parameters;
    private readonly TokenOptions _options;
    private readonly TimeProvider _time;

    public TokenValidator(IOptions<SwitchboardOptions> options, TimeProvider time)
    {
        _options = options.Value.Token;
        _time = time;
        if (!string.IsNullOrEmpty(_options.HmacSecretKey))
        {
            _parameters = new TokenValidationParameters
            {
                IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(_options.HmacSecretKey)),
                ValidAlgorithms = HmacAlgorithms,
                ValidateIssuerSigningKey = true,
                RequireSignedTokens = true,
                ValidateLifetime = false, // checked below with TimeProvider
                RequireExpirationTime = false,
                ValidateAudience = !string.IsNullOrEmpty(_options.Audience),
                ValidAudience = _options.Audience,
                ValidateIssuer = !string.IsNullOrEmpty(_options.Issuer),
                ValidIssuer = _options.Issuer,
            };
        }
    }

    public async ValueTask<ConnectToken> ValidateConnectTokenAsync(string token, CancellationToken cancellationToken)
    {
        var payload = await ValidateSignatureAsync(token, cancellationToken).ConfigureAwait(false);
        var claims = Deserialize(payload, TokenJsonContext.Default.ConnectTokenClaims);
        CheckExpiry(claims.Exp);
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
        CheckExpiry(claims.Exp);
        if (string.IsNullOrEmpty(claims.Channel))
        {
            throw new TokenException(TokenError.Invalid, "subscription token has no channel claim");
        }
        var info = claims.Info.IsEmpty && claims.B64Info is { } b64 ? DecodeB64Info(b64) : claims.Info;
        return new SubscribeToken(claims.Sub ?? "", claims.Channel, ConnectionExpiry(claims.Exp, claims.ExpireAt), info, claims.Override);
    }

    private async ValueTask<byte[]> ValidateSignatureAsync(string token, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_parameters is null)
        {
            throw new TokenException(TokenError.Invalid, "token validation is not configured (Switchboard:Token:HmacSecretKey)");
        }
        if (token.Length > 16 * 1024)
        {
            throw new TokenException(TokenError.Invalid, "token too large");
        }
        var result = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            throw new TokenException(TokenError.Invalid, result.Exception?.GetType().Name ?? "invalid token");
        }
        try
        {
            return Base64Url.DecodeFromChars(jwt.EncodedPayload);
        }
        catch (FormatException)
        {
            throw new TokenException(TokenError.Invalid, "token payload is not base64url");
        }
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

    private void CheckExpiry(long? exp)
    {
        if (exp is > 0 && DateTimeOffset.FromUnixTimeSeconds(exp.Value) + _options.ClockSkew <= _time.GetUtcNow())
        {
            throw new TokenException(TokenError.Expired, "token expired");
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
