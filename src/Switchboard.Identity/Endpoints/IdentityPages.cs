using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Switchboard.Channels;

namespace Switchboard.Identity.Endpoints;

/// <summary>
/// The sign-in and sign-up pages: plain server-rendered HTML forms protected by antiforgery tokens.
/// A failed sign-in counts towards the account's lockout.
/// </summary>
internal static class IdentityPages
{
    public static void MapIdentityPages(this IEndpointRouteBuilder app)
    {
        app.MapGet(SwitchboardIdentity.SignInPath, (HttpContext http, IAntiforgery antiforgery)
            => Page(http, antiforgery, SignInForm(ReturnUrl(http.Request.Query["ReturnUrl"]), null, null), StatusCodes.Status200OK)).ExcludeFromDescription();
        app.MapPost(SwitchboardIdentity.SignInPath, SignInAsync).ExcludeFromDescription().RequireRateLimiting(Switchboard.Auth.RateLimitPolicies.SignIn);
        app.MapGet(SwitchboardIdentity.SignUpPath, (HttpContext http, IAntiforgery antiforgery, IOptions<SwitchboardOptions> options)
            => options.Value.Identity.AllowSignUp
                ? Page(http, antiforgery, SignUpForm(ReturnUrl(http.Request.Query["ReturnUrl"]), null, null), StatusCodes.Status200OK)
                : Results.NotFound()).ExcludeFromDescription();
        app.MapPost(SwitchboardIdentity.SignUpPath, SignUpAsync).ExcludeFromDescription().RequireRateLimiting(Switchboard.Auth.RateLimitPolicies.SignIn);
        app.MapPost(SwitchboardIdentity.SignOutPath, SignOutAsync).ExcludeFromDescription();
    }

    private static async Task<IResult> SignInAsync(HttpContext http, IAntiforgery antiforgery, SignInManager<IdentityUser> signIn)
    {
        if (!await antiforgery.IsRequestValidAsync(http).ConfigureAwait(false))
        {
            return Results.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false);
        var returnUrl = ReturnUrl(form["ReturnUrl"]);
        var userName = form["UserName"].ToString();
        var result = await signIn.PasswordSignInAsync(userName, form["Password"].ToString(), isPersistent: false, lockoutOnFailure: true).ConfigureAwait(false);
        if (result.Succeeded)
        {
            return Results.Redirect(returnUrl);
        }
        return result.IsLockedOut
            ? Page(http, antiforgery, SignInForm(returnUrl, userName, "This account is locked after too many failed sign-ins. Try again later."), StatusCodes.Status423Locked)
            : Page(http, antiforgery, SignInForm(returnUrl, userName, "Wrong user name or password."), StatusCodes.Status401Unauthorized);
    }

    private static async Task<IResult> SignUpAsync(HttpContext http, IAntiforgery antiforgery, UserManager<IdentityUser> users,
        SignInManager<IdentityUser> signIn, IOptions<SwitchboardOptions> options)
    {
        if (!options.Value.Identity.AllowSignUp)
        {
            return Results.NotFound();
        }
        if (!await antiforgery.IsRequestValidAsync(http).ConfigureAwait(false))
        {
            return Results.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false);
        var returnUrl = ReturnUrl(form["ReturnUrl"]);
        var userName = form["UserName"].ToString();
        var email = form["Email"].ToString();
        var user = new IdentityUser(userName) { Email = string.IsNullOrWhiteSpace(email) ? null : email.Trim() };
        var created = await users.CreateAsync(user, form["Password"].ToString()).ConfigureAwait(false);
        if (!created.Succeeded)
        {
            return Page(http, antiforgery, SignUpForm(returnUrl, userName, string.Join(" ", created.Errors.Select(e => e.Description))), StatusCodes.Status400BadRequest);
        }
        await signIn.SignInAsync(user, isPersistent: false).ConfigureAwait(false);
        return Results.Redirect(returnUrl);
    }

    private static async Task<IResult> SignOutAsync(HttpContext http, IAntiforgery antiforgery, SignInManager<IdentityUser> signIn)
    {
        if (!await antiforgery.IsRequestValidAsync(http).ConfigureAwait(false))
        {
            return Results.BadRequest();
        }
        await signIn.SignOutAsync().ConfigureAwait(false);
        return Results.Redirect("/");
    }

    // Only a local path: an open redirect would hand the session to another site.
    internal static string ReturnUrl(string? value)
        => !string.IsNullOrEmpty(value) && value[0] == '/' && (value.Length == 1 || (value[1] != '/' && value[1] != '\\'))
            ? value
            : "/";

    private static IResult Page(HttpContext http, IAntiforgery antiforgery, Func<string, string, string> body, int status)
    {
        var tokens = antiforgery.GetAndStoreTokens(http);
        var html = new StringBuilder()
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append("<title>Switchboard</title><link rel=\"icon\" href=\"data:,\"><style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}")
            .Append("label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1rem}")
            .Append(".error{color:#b00020}</style></head><body>")
            .Append(body(tokens.FormFieldName, tokens.RequestToken ?? ""))
            .Append("</body></html>")
            .ToString();
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["X-Frame-Options"] = "DENY";
        return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    private static Func<string, string, string> SignInForm(string returnUrl, string? userName, string? error) => (field, token) =>
        $"""
        <h1>Sign in</h1>
        {Error(error)}
        <form method="post" action="{SwitchboardIdentity.SignInPath}">
        <input type="hidden" name="{E(field)}" value="{E(token)}"><input type="hidden" name="ReturnUrl" value="{E(returnUrl)}">
        <label for="UserName">User name</label><input id="UserName" name="UserName" autocomplete="username" required value="{E(userName)}">
        <label for="Password">Password</label><input id="Password" name="Password" type="password" autocomplete="current-password" required>
        <button type="submit">Sign in</button>
        </form>
        <p>No account? <a href="{SwitchboardIdentity.SignUpPath}?ReturnUrl={UrlEncoder.Default.Encode(returnUrl)}">Sign up</a></p>
        """;

    private static Func<string, string, string> SignUpForm(string returnUrl, string? userName, string? error) => (field, token) =>
        $"""
        <h1>Create an account</h1>
        {Error(error)}
        <form method="post" action="{SwitchboardIdentity.SignUpPath}">
        <input type="hidden" name="{E(field)}" value="{E(token)}"><input type="hidden" name="ReturnUrl" value="{E(returnUrl)}">
        <label for="UserName">User name</label><input id="UserName" name="UserName" autocomplete="username" required value="{E(userName)}">
        <label for="Email">Email (optional)</label><input id="Email" name="Email" type="email" autocomplete="email">
        <label for="Password">Password (8 characters or more)</label><input id="Password" name="Password" type="password" autocomplete="new-password" minlength="8" required>
        <button type="submit">Sign up</button>
        </form>
        <p>Have an account? <a href="{SwitchboardIdentity.SignInPath}?ReturnUrl={UrlEncoder.Default.Encode(returnUrl)}">Sign in</a></p>
        """;

    private static string Error(string? error) => error is null ? "" : $"<p class=\"error\" role=\"alert\">{E(error)}</p>";

    private static string E(string? value) => HtmlEncoder.Default.Encode(value ?? "");
}
