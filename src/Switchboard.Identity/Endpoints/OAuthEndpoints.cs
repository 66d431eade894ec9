using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Switchboard.Channels;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Switchboard.Identity.Endpoints;

/// <summary>
/// The parts of the OAuth endpoints OpenIddict leaves to the app ("passthrough"): who the user is at
/// the authorization endpoint, what goes into tokens at the token endpoint, and the userinfo answer.
/// OpenIddict validates every request (client, redirect URI, PKCE, code and refresh token state)
/// before these run.
/// </summary>
internal static class OAuthEndpoints
{
    private const string Scheme = OpenIddictServerAspNetCoreDefaults.AuthenticationScheme;

    public static void MapOAuthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapMethods(SwitchboardIdentity.AuthorizePath, ["GET", "POST"], AuthorizeAsync).ExcludeFromDescription();
        app.MapPost(SwitchboardIdentity.TokenPath, TokenAsync).ExcludeFromDescription().RequireRateLimiting(Switchboard.Auth.RateLimitPolicies.Token);
        app.MapMethods(SwitchboardIdentity.UserInfoPath, ["GET", "POST"], UserInfoAsync).ExcludeFromDescription();
    }

    private static async Task<IResult> AuthorizeAsync(HttpContext http, UserManager<IdentityUser> users, IOptions<SwitchboardOptions> options)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("not an OpenID Connect request");
        var cookie = await http.AuthenticateAsync(IdentityConstants.ApplicationScheme).ConfigureAwait(false);
        var user = cookie.Succeeded ? await users.GetUserAsync(cookie.Principal).ConfigureAwait(false) : null;
        if (user is null || request.HasPromptValue(PromptValues.Login))
        {
            if (request.HasPromptValue(PromptValues.None))
            {
                return Refuse(Errors.LoginRequired, "The user is not signed in.");
            }
            // To the sign-in page, which comes back here.
            return Results.Challenge(new AuthenticationProperties { RedirectUri = http.Request.PathBase + http.Request.Path + QueryWithoutPromptLogin(http) },
                [IdentityConstants.ApplicationScheme]);
        }
        if (await users.IsLockedOutAsync(user).ConfigureAwait(false))
        {
            return Refuse(Errors.AccessDenied, "The account is locked.");
        }
        var identity = await UserIdentityAsync(users, user, request.GetScopes(), options.Value.Identity.Audience).ConfigureAwait(false);
        return Results.SignIn(new ClaimsPrincipal(identity), null, Scheme);
    }

    // Keeps prompt=login from sending the user to the sign-in page forever.
    private static string QueryWithoutPromptLogin(HttpContext http)
    {
        var query = http.Request.Query.Where(p => !(p.Key == Parameters.Prompt && p.Value.ToString().Contains(PromptValues.Login, StringComparison.Ordinal)));
        return new Microsoft.AspNetCore.Http.Extensions.QueryBuilder(query).ToQueryString().Value ?? "";
    }

    private static async Task<IResult> TokenAsync(HttpContext http, UserManager<IdentityUser> users,
        IOpenIddictApplicationManager applications, IOptions<SwitchboardOptions> options)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("not an OpenID Connect request");
        var audience = options.Value.Identity.Audience;
        if (request.IsClientCredentialsGrantType())
        {
            // The client is the subject: a bot connects as the user named by its client id.
            var application = await applications.FindByClientIdAsync(request.ClientId!).ConfigureAwait(false)
                ?? throw new InvalidOperationException("the client was authenticated but is gone");
            var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
            identity.SetClaim(Claims.Subject, await applications.GetClientIdAsync(application).ConfigureAwait(false));
            identity.SetClaim(Claims.Name, await applications.GetDisplayNameAsync(application).ConfigureAwait(false));
            identity.SetScopes(request.GetScopes());
            identity.SetAudiences(audience);
            identity.SetResources(audience);
            identity.SetDestinations(Destinations);
            return Results.SignIn(new ClaimsPrincipal(identity), null, Scheme);
        }
        if (request.IsAuthorizationCodeGrantType() || request.IsRefreshTokenGrantType())
        {
            // OpenIddict has checked the code or refresh token (and redeemed it); check the user is still welcome.
            var result = await http.AuthenticateAsync(Scheme).ConfigureAwait(false);
            var userId = result.Principal?.GetClaim(Claims.Subject);
            var user = userId is null ? null : await users.FindByIdAsync(userId).ConfigureAwait(false);
            if (user is null || await users.IsLockedOutAsync(user).ConfigureAwait(false))
            {
                return Refuse(Errors.InvalidGrant, "The user is no longer allowed to sign in.");
            }
            // Keep OpenIddict's own claims (authorization id, scopes, token chain); refresh the user's.
            var identity = new ClaimsIdentity(result.Principal!.Claims, TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
            await SetUserClaimsAsync(identity, users, user).ConfigureAwait(false);
            identity.SetAudiences(audience);
            identity.SetResources(audience);
            identity.SetDestinations(Destinations);
            return Results.SignIn(new ClaimsPrincipal(identity), null, Scheme);
        }
        return Refuse(Errors.UnsupportedGrantType, "The grant type is not supported.");
    }

    private static async Task<IResult> UserInfoAsync(HttpContext http, UserManager<IdentityUser> users)
    {
        var result = await http.AuthenticateAsync(Scheme).ConfigureAwait(false);
        var userId = result.Principal?.GetClaim(Claims.Subject);
        var user = userId is null ? null : await users.FindByIdAsync(userId).ConfigureAwait(false);
        if (user is null)
        {
            return Results.Challenge(new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.InvalidToken,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = "The access token names no user.",
            }), [Scheme]);
        }
        var claims = new Dictionary<string, string>(StringComparer.Ordinal) { [Claims.Subject] = user.Id };
        var principal = result.Principal!;
        if (principal.HasScope(Scopes.Profile))
        {
            claims[Claims.Name] = user.UserName ?? "";
            claims[Claims.PreferredUsername] = user.UserName ?? "";
        }
        if (principal.HasScope(Scopes.Email) && !string.IsNullOrEmpty(user.Email))
        {
            claims[Claims.Email] = user.Email;
        }
        return Results.Json(claims, IdentityJsonContext.Default.DictionaryStringString);
    }

    private static async Task<ClaimsIdentity> UserIdentityAsync(UserManager<IdentityUser> users, IdentityUser user, IEnumerable<string> scopes, string audience)
    {
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        await SetUserClaimsAsync(identity, users, user).ConfigureAwait(false);
        identity.SetScopes(scopes);
        identity.SetAudiences(audience);
        identity.SetResources(audience);
        identity.SetDestinations(Destinations);
        return identity;
    }

    private static async Task SetUserClaimsAsync(ClaimsIdentity identity, UserManager<IdentityUser> users, IdentityUser user)
    {
        // sub = the user id: Switchboard's connection user.
        identity.SetClaim(Claims.Subject, await users.GetUserIdAsync(user).ConfigureAwait(false));
        var name = await users.GetUserNameAsync(user).ConfigureAwait(false);
        identity.SetClaim(Claims.Name, name);
        identity.SetClaim(Claims.PreferredUsername, name);
        identity.SetClaim(Claims.Email, await users.GetEmailAsync(user).ConfigureAwait(false));
    }

    private static IEnumerable<string> Destinations(Claim claim) => claim.Type switch
    {
        Claims.Name or Claims.PreferredUsername when claim.Subject!.HasScope(Scopes.Profile)
            => [OpenIddictConstants.Destinations.AccessToken, OpenIddictConstants.Destinations.IdentityToken],
        Claims.Name or Claims.PreferredUsername => [OpenIddictConstants.Destinations.AccessToken],
        Claims.Email when claim.Subject!.HasScope(Scopes.Email) => [OpenIddictConstants.Destinations.IdentityToken],
        // Never leak the security stamp or other internals into tokens.
        "AspNet.Identity.SecurityStamp" => [],
        _ => [OpenIddictConstants.Destinations.AccessToken],
    };

    private static IResult Refuse(string error, string description) => Results.Forbid(new AuthenticationProperties(new Dictionary<string, string?>
    {
        [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
        [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
    }), [Scheme]);
}
