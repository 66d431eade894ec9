using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.IdentityModel.Tokens;

namespace Switchboard.Identity.Tests;

/// <summary>A cookie-aware HTTP client that walks the sign-in pages and the OAuth endpoints as a browser app would.</summary>
public sealed partial class Browser : IDisposable
{
    public const string ClientId = "switchboard-demo";

    private readonly HttpClient _http;

    public Browser(Uri baseAddress)
    {
        _http = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = baseAddress };
    }

    public HttpClient Http => _http;

    public static (string Verifier, string Challenge) Pkce()
    {
        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        return (verifier, Base64UrlEncoder.Encode(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier))));
    }

    public static string AuthorizeUrl(string challenge, string redirectUri = IdentityServer.RedirectUri, string state = "state-1", string method = "S256")
        => "/connect/authorize?" + string.Join("&", new Dictionary<string, string>
        {
            ["client_id"] = ClientId,
            ["response_type"] = "code",
            ["redirect_uri"] = redirectUri,
            ["scope"] = "openid profile offline_access",
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = method,
            ["state"] = state,
        }.Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value)}"));

    public Task<HttpResponseMessage> GetAsync(string url) => _http.GetAsync(new Uri(url, UriKind.RelativeOrAbsolute));

    /// <summary>Opens a page with a form and posts it with its antiforgery token and <paramref name="fields"/>.</summary>
    public async Task<HttpResponseMessage> SubmitFormAsync(string pageUrl, Dictionary<string, string> fields)
    {
        using var page = await GetAsync(pageUrl);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        var form = Hidden().Matches(html).ToDictionary(m => WebUtility.HtmlDecode(m.Groups[1].Value), m => WebUtility.HtmlDecode(m.Groups[2].Value));
        Assert.Contains("__RequestVerificationToken", form.Keys);
        foreach (var (key, value) in fields)
        {
            form[key] = value;
        }
        var action = FormAction().Match(html).Groups[1].Value;
        return await _http.PostAsync(new Uri(action, UriKind.Relative), new FormUrlEncodedContent(form));
    }

    /// <summary>Signs up through the authorize redirect and returns the authorization code.</summary>
    public async Task<string> SignUpAndAuthorizeAsync(string userName, string password, string challenge)
    {
        using var authorize = await GetAsync(AuthorizeUrl(challenge));
        Assert.Equal(HttpStatusCode.Redirect, authorize.StatusCode);
        var signIn = authorize.Headers.Location!;
        Assert.StartsWith("/identity/signin", PathOf(signIn), StringComparison.Ordinal);
        var returnUrl = System.Web.HttpUtility.ParseQueryString(QueryOf(signIn))["ReturnUrl"]!;
        using var signedUp = await SubmitFormAsync("/identity/signup?ReturnUrl=" + Uri.EscapeDataString(returnUrl),
            new() { ["UserName"] = userName, ["Password"] = password });
        Assert.Equal(HttpStatusCode.Redirect, signedUp.StatusCode);
        return await FollowToCodeAsync(signedUp.Headers.Location!.OriginalString);
    }

    /// <summary>Signs in through the authorize redirect and returns the authorization code.</summary>
    public async Task<string> SignInAndAuthorizeAsync(string userName, string password, string challenge)
    {
        using var authorize = await GetAsync(AuthorizeUrl(challenge));
        Assert.Equal(HttpStatusCode.Redirect, authorize.StatusCode);
        var signIn = authorize.Headers.Location!;
        using var signedIn = await SubmitFormAsync(signIn.OriginalString, new() { ["UserName"] = userName, ["Password"] = password });
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        return await FollowToCodeAsync(signedIn.Headers.Location!.OriginalString);
    }

    private async Task<string> FollowToCodeAsync(string authorizeUrl)
    {
        Assert.StartsWith("/connect/authorize", authorizeUrl, StringComparison.Ordinal);
        using var authorized = await GetAsync(authorizeUrl);
        Assert.Equal(HttpStatusCode.Redirect, authorized.StatusCode);
        var callback = authorized.Headers.Location!;
        Assert.StartsWith(IdentityServer.RedirectUri + "?", callback.AbsoluteUri, StringComparison.Ordinal);
        var query = System.Web.HttpUtility.ParseQueryString(callback.Query);
        Assert.Equal("state-1", query["state"]);
        return query["code"]!;
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> TokenAsync(Dictionary<string, string> form)
    {
        using var response = await _http.PostAsync(new Uri("/connect/token", UriKind.Relative), new FormUrlEncodedContent(form));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, body.RootElement.Clone());
    }

    public Task<(HttpStatusCode Status, JsonElement Body)> ExchangeCodeAsync(string code, string verifier, string redirectUri = IdentityServer.RedirectUri)
        => TokenAsync(new()
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = ClientId,
            ["code"] = code,
            ["code_verifier"] = verifier,
            ["redirect_uri"] = redirectUri,
        });

    public Task<(HttpStatusCode Status, JsonElement Body)> RefreshAsync(string refreshToken)
        => TokenAsync(new() { ["grant_type"] = "refresh_token", ["client_id"] = ClientId, ["refresh_token"] = refreshToken });

    private static string PathOf(Uri uri) => uri.IsAbsoluteUri ? uri.AbsolutePath : uri.OriginalString.Split('?')[0];

    private static string QueryOf(Uri uri) => uri.IsAbsoluteUri ? uri.Query : (uri.OriginalString.Contains('?', StringComparison.Ordinal) ? uri.OriginalString[uri.OriginalString.IndexOf('?', StringComparison.Ordinal)..] : "");

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\">")]
    private static partial Regex Hidden();

    [GeneratedRegex("<form method=\"post\" action=\"([^\"]+)\">")]
    private static partial Regex FormAction();

    public void Dispose() => _http.Dispose();
}
