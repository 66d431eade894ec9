using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Switchboard.FunctionalTests;

/// <summary>
/// A tiny, independent OpenID Connect issuer on a free loopback port: its own RSA and EC keys,
/// a discovery document, a JWKS that tests change (rotation) and request counters (refetch rate
/// limits). Switchboard knows it only through configuration.
/// </summary>
internal sealed class TestIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Dictionary<string, SigningKey> _keys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _published = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _jwksRequests;
    private int _discoveryRequests;

    private TestIssuer(WebApplication app, Uri authority)
    {
        _app = app;
        Authority = authority;
    }

    /// <summary>The issuer's base URL, also its <c>iss</c> (no trailing slash).</summary>
    public Uri Authority { get; }

    public string Issuer => Authority.ToString().TrimEnd('/');

    public string JwksUrl => Issuer + "/jwks";

    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    public int DiscoveryRequests => Volatile.Read(ref _discoveryRequests);

    public static async Task<TestIssuer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        TestIssuer? issuer = null;
        app.MapGet("/.well-known/openid-configuration", () =>
        {
            Interlocked.Increment(ref issuer!._discoveryRequests);
            return Results.Text($"{{\"issuer\":\"{issuer.Issuer}\",\"jwks_uri\":\"{issuer.JwksUrl}\",\"id_token_signing_alg_values_supported\":[\"RS256\",\"ES256\"]}}", "application/json");
        });
        app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref issuer!._jwksRequests);
            return Results.Text(issuer.Jwks(), "application/json");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        issuer = new TestIssuer(app, new Uri(address));
        return issuer;
    }

    /// <summary>A new RSA (2048) key, published in the JWKS unless told otherwise.</summary>
    public SigningKey AddRsaKey(string kid, bool publish = true)
        => Add(new SigningKey(kid, new RsaSecurityKey(RSA.Create(2048)) { KeyId = kid }), publish);

    /// <summary>A new EC P-256 key, published in the JWKS unless told otherwise.</summary>
    public SigningKey AddEcKey(string kid, bool publish = true)
        => Add(new SigningKey(kid, new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = kid }), publish);

    public void Publish(string kid)
    {
        lock (_lock)
        {
            _published.Add(kid);
        }
    }

    public void Unpublish(string kid)
    {
        lock (_lock)
        {
            _published.Remove(kid);
        }
    }

    private SigningKey Add(SigningKey key, bool publish)
    {
        lock (_lock)
        {
            _keys[key.Kid] = key;
            if (publish)
            {
                _published.Add(key.Kid);
            }
        }
        return key;
    }

    private string Jwks()
    {
        lock (_lock)
        {
            return "{\"keys\":[" + string.Join(",", _published.Select(kid => _keys[kid].PublicJwk())) + "]}";
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A signing key of a test issuer and what it can sign.</summary>
internal sealed class SigningKey(string kid, AsymmetricSecurityKey key)
{
    private static readonly JsonWebTokenHandler Handler = new();

    public string Kid => kid;

    /// <summary>The public key as PEM (<c>-----BEGIN PUBLIC KEY-----</c>).</summary>
    public string PublicPem => key switch
    {
        RsaSecurityKey r => r.Rsa.ExportSubjectPublicKeyInfoPem(),
        ECDsaSecurityKey e => e.ECDsa.ExportSubjectPublicKeyInfoPem(),
        _ => throw new NotSupportedException(),
    };

    /// <summary>A JWS of <paramref name="payloadJson"/> with <paramref name="alg"/> (RS256, PS384, ES256 …) and this key's kid.</summary>
    public string Sign(string payloadJson, string alg) => Handler.CreateToken(payloadJson, new SigningCredentials(key, alg));

    public string PublicJwk()
    {
        static string B64(byte[] b) => Base64UrlEncoder.Encode(b);
        switch (key)
        {
            case RsaSecurityKey r:
                var p = r.Rsa.ExportParameters(false);
                return $"{{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"{kid}\",\"n\":\"{B64(p.Modulus!)}\",\"e\":\"{B64(p.Exponent!)}\"}}";
            case ECDsaSecurityKey e:
                var q = e.ECDsa.ExportParameters(false).Q;
                return $"{{\"kty\":\"EC\",\"use\":\"sig\",\"kid\":\"{kid}\",\"crv\":\"P-256\",\"x\":\"{B64(q.X!)}\",\"y\":\"{B64(q.Y!)}\"}}";
            default:
                throw new NotSupportedException();
        }
    }
}

/// <summary>Hand-made JWTs for what no library will sign: <c>alg: none</c>, HMAC with a public key as the secret.</summary>
internal static class ForgedTokens
{
    private static string B64(byte[] b) => Base64UrlEncoder.Encode(b);

    public static string Unsigned(string payloadJson)
        => $"{B64("{\"alg\":\"none\",\"typ\":\"JWT\"}"u8.ToArray())}.{B64(Encoding.UTF8.GetBytes(payloadJson))}.";

    public static string Hmac(string payloadJson, string secret, string? kid = null)
    {
        var header = B64(Encoding.UTF8.GetBytes(kid is null ? "{\"alg\":\"HS256\",\"typ\":\"JWT\"}" : $"{{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"{kid}\"}}"));
        var payload = B64(Encoding.UTF8.GetBytes(payloadJson));
        var signature = B64(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{header}.{payload}")));
        return $"{header}.{payload}.{signature}";
    }

    /// <summary>The token with its payload replaced, the signature kept.</summary>
    public static string WithPayload(string token, string payloadJson)
    {
        var parts = token.Split('.');
        return $"{parts[0]}.{B64(Encoding.UTF8.GetBytes(payloadJson))}.{parts[2]}";
    }
}
