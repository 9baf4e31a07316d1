import { errors, type AuthorizationDetail } from 'oidc-provider';

import { BINDING_MESSAGE_PATTERN } from '../common/approval';
import { unsafeTextProblem } from '../common/safe-text';

/**
 * Where the local provider imitates Auth0 (default) or Keycloak 26 (IDP_BEHAVIOUR). Every difference a client can
 * see lives here; the rest of the provider asks this object instead of testing the mode.
 */
export const IDP_BEHAVIOURS = ['auth0', 'keycloak'] as const;
export type IdpBehaviourName = (typeof IDP_BEHAVIOURS)[number];

export interface IdpBehaviour {
  name: IdpBehaviourName;
  /** oidc-provider's ciba.validateBindingMessage: throws InvalidBindingMessage. */
  validateBindingMessage(bindingMessage: string | undefined): void;
  /** A login_hint naming no user: throws the provider's answer (undefined: oidc-provider's `unknown_user_id`). */
  unknownUser(): undefined;
  /** What an approval grants of the requested authorization_details (undefined: nothing). */
  grantedAuthorizationDetails(requested: AuthorizationDetail[] | undefined): AuthorizationDetail[] | undefined;
}

/** Keycloak 26 (BackchannelAuthenticationEndpoint): optional; when present, 1 to 50 of these characters, no spaces. */
const KEYCLOAK_BINDING_MESSAGE = /^[a-zA-Z0-9-._+/!?#]{1,50}$/;

const AUTH0: IdpBehaviour = {
  name: 'auth0',
  // Auth0's rule replaces oidc-provider's default (which rejects spaces and anything over 20 characters). Safe text
  // first (common/safe-text.ts): the pattern refuses invisible and direction-changing characters too, this names them.
  validateBindingMessage(bindingMessage) {
    if (bindingMessage === undefined || bindingMessage === '') {
      throw new errors.InvalidBindingMessage('binding_message is required');
    }
    const unsafe = unsafeTextProblem(bindingMessage, 'binding_message');
    if (unsafe) throw new errors.InvalidBindingMessage(unsafe);
    if (!BINDING_MESSAGE_PATTERN.test(bindingMessage)) {
      throw new errors.InvalidBindingMessage(
        'binding_message must be 1 to 64 characters of letters, digits, spaces and +-_.,:#',
      );
    }
  },
  unknownUser: () => undefined,
  grantedAuthorizationDetails: (requested) => requested,
};

const KEYCLOAK: IdpBehaviour = {
  name: 'keycloak',
  validateBindingMessage(bindingMessage) {
    if (bindingMessage !== undefined && !KEYCLOAK_BINDING_MESSAGE.test(bindingMessage)) {
      throw new errors.InvalidBindingMessage(
        'the binding_message value has to be max 50 characters in length and must contain only basic plain-text ' +
          'characters without spaces',
      );
    }
  },
  // Keycloak checks the user before the binding message; oidc-provider the other way round (a request with both
  // wrong gets invalid_binding_message here, invalid_user from Keycloak).
  unknownUser() {
    throw new errors.InvalidRequest('invalid_user');
  },
  // Keycloak accepts authorization_details (and hands them to the authentication channel) but grants nothing:
  // no authorization_details in the token response or the access token.
  grantedAuthorizationDetails: () => undefined,
};

export function idpBehaviour(name: IdpBehaviourName = 'auth0'): IdpBehaviour {
  return name === 'keycloak' ? KEYCLOAK : AUTH0;
}
