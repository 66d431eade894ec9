using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;
using Switchboard.Protocol;

namespace Switchboard.Auth;

/// <summary>One place keys come from, and the issuer and audience its tokens must carry.</summary>
internal abstract class KeySource
{
    /// <summary>The <c>iss</c> this source's tokens must carry; null: no issuer check.</summary>
    public abstract string? Issuer { get; }

    /// <summary>The <c>aud</c> this source's tokens must carry; null: no audience check.</summary>
    public string? Audience { get; init; }

    /// <summary>The keys now. Throws a temporary <see cref="ProtocolException"/> when a remote source never could be read.</summary>
    public abstract ValueTask<IReadOnlyCollection<SecurityKey>> GetKeysAsync(CancellationToken cancellationToken);

    /// <summary>Reads the keys again after a token named an unknown <c>kid</c>, unless that was done too recently; true when it did.</summary>
    public virtual ValueTask<bool> RefetchAsync(CancellationToken cancellationToken) => ValueTask.FromResult(false);
}

/// <summary>Keys known at start: the HMAC secret and the PEM public keys.</summary>
internal sealed class StaticKeySource(IReadOnlyCollection<SecurityKey> keys, string? issuer) : KeySource
{
    public override string? Issuer => issuer;

    public override ValueTask<IReadOnlyCollection<SecurityKey>> GetKeysAsync(CancellationToken cancellationToken) => ValueTask.FromResult(keys);
}

/// <summary>A registered <see cref="ITokenKeySource"/> (the built-in OAuth server's keys).</summary>
internal sealed class ProvidedKeySource(ITokenKeySource source) : KeySource
{
    public override string? Issuer => source.Issuer;

    public override ValueTask<IReadOnlyCollection<SecurityKey>> GetKeysAsync(CancellationToken cancellationToken) => source.GetKeysAsync(cancellationToken);
}

/// <summary>
/// A document fetched over HTTP and kept for <c>refresh</c>; fetched again at once on request,
/// but never twice within <c>minRefetch</c> (failed fetches count too), so unknown <c>kid</c>s in
/// a flood of forged tokens cost the key server one request per interval at most.
/// </summary>
internal sealed class CachedDocument<T>(Uri url, Func<string, T> parse, HttpClient http, TimeProvider time, TimeSpan refresh, TimeSpan minRefetch, ILogger logger)
    where T : class
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private T? _value;
    private DateTimeOffset _fetchedAt;
    private DateTimeOffset? _attemptedAt;

    public Uri Url => url;

    /// <summary>The document, fetched when missing or older than the refresh interval; null when it never could be read.</summary>
    public async ValueTask<T?> GetAsync(CancellationToken cancellationToken)
    {
        var value = _value;
        if (value is not null && time.GetUtcNow() - _fetchedAt < refresh)
        {
            return value;
        }
        await FetchAsync(force: false, cancellationToken).ConfigureAwait(false);
        return _value;
    }

    /// <summary>Fetches again unless the last attempt was within the least interval; true when it fetched.</summary>
    public Task<bool> RefetchAsync(CancellationToken cancellationToken) => FetchAsync(force: true, cancellationToken);

    private async Task<bool> FetchAsync(bool force, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = time.GetUtcNow();
            if (!force && _value is not null && now - _fetchedAt < refresh)
            {
                return false; // another caller fetched meanwhile
            }
            if (_attemptedAt is { } last && now - last < minRefetch)
            {
                return false;
            }
            _attemptedAt = now;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                var text = await http.GetStringAsync(url, timeout.Token).ConfigureAwait(false);
                _value = parse(text);
                _fetchedAt = now;
                KeySourceLog.Fetched(logger, url);
                return true;
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or ArgumentException or InvalidOperationException
                || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                KeySourceLog.FetchFailed(logger, url, e.Message);
                return false;
            }
        }
        finally
        {
            _lock.Release();
        }
    }
}

/// <summary>The signing keys published at a JWKS URL.</summary>
internal sealed class JwksKeySource : KeySource
{
    private readonly CachedDocument<IReadOnlyCollection<SecurityKey>> _document;
    private readonly string? _issuer;

    public JwksKeySource(Uri url, string? issuer, HttpClient http, TimeProvider time, TimeSpan refresh, TimeSpan minRefetch, ILogger logger)
    {
        _issuer = issuer;
        _document = new(url, ParseJwks, http, time, refresh, minRefetch, logger);
    }

    public override string? Issuer => _issuer;

    public Uri Url => _document.Url;

    public override async ValueTask<IReadOnlyCollection<SecurityKey>> GetKeysAsync(CancellationToken cancellationToken)
        => await _document.GetAsync(cancellationToken).ConfigureAwait(false) ?? throw Unavailable();

    public override async ValueTask<bool> RefetchAsync(CancellationToken cancellationToken)
        => await _document.RefetchAsync(cancellationToken).ConfigureAwait(false);

    // Only asymmetric signing keys: a symmetric key published at a URL would be no secret.
    private static IReadOnlyCollection<SecurityKey> ParseJwks(string json)
    {
        var set = new JsonWebKeySet(json) { SkipUnresolvedJsonWebKeys = true };
        return [.. set.GetSigningKeys().Where(k => KeyFamilies.Of(k) is KeyFamily.Rsa or KeyFamily.Ecdsa)];
    }

    public static ProtocolException Unavailable()
        => new(ErrorCodes.Internal, "token keys unavailable, try again", temporary: true);
}

/// <summary>
/// An OpenID Connect issuer: its discovery document names the issuer (checked against the
/// authority, as OpenID Connect Discovery requires) and the JWKS URL its keys come from.
/// </summary>
internal sealed class OidcKeySource : KeySource
{
    private readonly string _authority;
    private readonly CachedDocument<Discovery> _discovery;
    private readonly Func<Uri, string, JwksKeySource> _jwksFor;
    private JwksKeySource? _jwks;

    public OidcKeySource(string authority, HttpClient http, TimeProvider time, TimeSpan refresh, TimeSpan minRefetch, ILogger logger, Func<Uri, string, JwksKeySource> jwksFor)
    {
        _authority = authority.TrimEnd('/');
        _jwksFor = jwksFor;
        _discovery = new(new Uri(_authority + "/.well-known/openid-configuration"), ParseDiscovery, http, time, refresh, minRefetch, logger);
    }

    /// <summary>The discovered issuer, or the authority until discovery succeeded.</summary>
    public override string? Issuer => _jwks?.Issuer ?? _authority;

    /// <summary>True when the discovery document has been read.</summary>
    public bool Discovered => _jwks is not null;

    public async ValueTask<bool> DiscoverAsync(CancellationToken cancellationToken)
    {
        var discovery = await _discovery.GetAsync(cancellationToken).ConfigureAwait(false);
        if (discovery is null)
        {
            return false;
        }
        if (_jwks is not { } current || current.Url != discovery.JwksUri || current.Issuer != discovery.Issuer)
        {
            _jwks = _jwksFor(discovery.JwksUri, discovery.Issuer);
        }
        return true;
    }

    public override async ValueTask<IReadOnlyCollection<SecurityKey>> GetKeysAsync(CancellationToken cancellationToken)
    {
        if (!await DiscoverAsync(cancellationToken).ConfigureAwait(false))
        {
            throw JwksKeySource.Unavailable();
        }
        return await _jwks!.GetKeysAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask<bool> RefetchAsync(CancellationToken cancellationToken)
        => _jwks is { } jwks && await jwks.RefetchAsync(cancellationToken).ConfigureAwait(false);

    private Discovery ParseDiscovery(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var issuer = root.TryGetProperty("issuer", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : throw new InvalidOperationException("discovery document has no issuer");
        var jwks = root.TryGetProperty("jwks_uri", out var j) && j.ValueKind == JsonValueKind.String ? j.GetString()! : throw new InvalidOperationException("discovery document has no jwks_uri");
        if (!string.Equals(issuer.TrimEnd('/'), _authority, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"discovery document names issuer '{issuer}', not the authority '{_authority}'");
        }
        if (TokenKeyConfiguration.UrlProblem(jwks) is { } problem)
        {
            throw new InvalidOperationException($"jwks_uri {problem}");
        }
        return new Discovery(issuer, new Uri(jwks));
    }

    private sealed record Discovery(string Issuer, Uri JwksUri);
}

/// <summary>The algorithm families; a key verifies only the algorithms of its own.</summary>
internal enum KeyFamily
{
    None,
    Hmac,
    Rsa,
    Ecdsa,
}

internal static class KeyFamilies
{
    public static readonly string[] Hmac = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.HmacSha384, SecurityAlgorithms.HmacSha512];
    public static readonly string[] Rsa =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
    ];
    public static readonly string[] Ecdsa = [SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512];

    /// <summary>The family of a JWS <c>alg</c>; <see cref="KeyFamily.None"/> for <c>none</c> and anything unknown.</summary>
    public static KeyFamily OfAlgorithm(string? alg)
        => alg is null ? KeyFamily.None
        : Array.IndexOf(Hmac, alg) >= 0 ? KeyFamily.Hmac
        : Array.IndexOf(Rsa, alg) >= 0 ? KeyFamily.Rsa
        : Array.IndexOf(Ecdsa, alg) >= 0 ? KeyFamily.Ecdsa
        : KeyFamily.None;

    public static string[] Algorithms(KeyFamily family) => family switch
    {
        KeyFamily.Hmac => Hmac,
        KeyFamily.Rsa => Rsa,
        KeyFamily.Ecdsa => Ecdsa,
        _ => [],
    };

    public static KeyFamily Of(SecurityKey key) => key switch
    {
        SymmetricSecurityKey => KeyFamily.Hmac,
        RsaSecurityKey => KeyFamily.Rsa,
        ECDsaSecurityKey => KeyFamily.Ecdsa,
        X509SecurityKey x => x.PublicKey is System.Security.Cryptography.RSA ? KeyFamily.Rsa
            : x.PublicKey is System.Security.Cryptography.ECDsa ? KeyFamily.Ecdsa : KeyFamily.None,
        JsonWebKey j => j.Kty switch
        {
            JsonWebAlgorithmsKeyTypes.RSA => KeyFamily.Rsa,
            JsonWebAlgorithmsKeyTypes.EllipticCurve => KeyFamily.Ecdsa,
            JsonWebAlgorithmsKeyTypes.Octet => KeyFamily.Hmac,
            _ => KeyFamily.None,
        },
        _ => KeyFamily.None,
    };
}

internal static partial class KeySourceLog
{
    [LoggerMessage(EventId = 90, Level = LogLevel.Information, Message = "Token keys fetched from {Url}")]
    public static partial void Fetched(ILogger logger, Uri url);

    [LoggerMessage(EventId = 91, Level = LogLevel.Warning, Message = "Token keys could not be fetched from {Url}: {Error}")]
    public static partial void FetchFailed(ILogger logger, Uri url, string error);
}
